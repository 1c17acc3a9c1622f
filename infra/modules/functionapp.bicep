// The Function App: Flex Consumption plan, Python, one user-assigned identity, and every app
// setting calsync reads. Connections are identity-based (<Connection>__fullyQualifiedNamespace /
// __accountName + __credential + __clientId); secrets are Key Vault references resolved with the
// same identity (keyVaultReferenceIdentity). tests/test_infra_consistency.py checks this file
// against calsync/settings.py and function_app.py.

param name string
param planName string
param location string
param tags object = {}

@description('Resource id of the user-assigned identity calsync runs as.')
param identityId string
param identityClientId string

param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param tableEndpoint string

param serviceBusFullyQualifiedNamespace string
param changesQueueName string
param reconcileQueueName string
param maxDeliveryCount int

@description('Application Insights connection string (an endpoint and component id, not a credential: local auth is off).')
param applicationInsightsConnectionString string

// Versionless Key Vault secret URIs (outputs of keyvault.bicep).
param graphClientStateUri string
param bookingWebhookSecretsUri string
param bookingApiKeyUri string
param graphClientSecretUri string

@allowed(['managed-identity', 'secret'])
param graphAuthMode string
param graphTenantId string
param graphClientId string
param bookingBaseUrl string
@description('Synchronised rooms; calsync reads them as JSON from ROOMS.')
param rooms array
param conflictPolicy string
param tablePrefix string

@allowed(['3.11', '3.12'])
param pythonVersion string = '3.11'
@description('Subnet (delegated to Microsoft.App/environments) for outbound VNet integration; empty: none.')
param virtualNetworkSubnetId string = ''

param maximumInstanceCount int = 40
param instanceMemoryMB int = 2048

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'calsync' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    // Outbound through the VNet (private endpoints of Storage, Service Bus, Key Vault); inbound stays
    // public, since Graph and the booking system must reach the webhooks.
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }

  // Deployments use Entra ID (azd / az functionapp deploy), never publishing passwords.
  resource ftpPolicy 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPolicy 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(hostSettings, connectionSettings, calsyncSettings, graphAuthMode == 'secret' ? secretModeSettings : {})
}

// The Functions host itself (Flex Consumption sets the runtime in functionAppConfig, so no
// FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION here).
var hostSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
}

// Identity-based connections: the Service Bus bindings (connection="ServiceBusConnection") and
// calsync's table client (TABLES_ENDPOINT + AZURE_CLIENT_ID, read by azure-identity).
var connectionSettings = {
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  TABLES_ENDPOINT: tableEndpoint
  AZURE_CLIENT_ID: identityClientId
}

// calsync's own settings (calsync/settings.py). Secrets are Key Vault references only.
var calsyncSettings = {
  TABLE_PREFIX: tablePrefix
  GRAPH_AUTH_MODE: graphAuthMode
  GRAPH_TENANT_ID: graphTenantId
  GRAPH_CLIENT_ID: graphClientId
  GRAPH_CLIENT_STATE: '@Microsoft.KeyVault(SecretUri=${graphClientStateUri})'
  GRAPH_NOTIFICATION_URL: 'https://${functionApp.properties.defaultHostName}/api/graph/notifications'
  GRAPH_LIFECYCLE_URL: 'https://${functionApp.properties.defaultHostName}/api/graph/lifecycle'
  BOOKING_BASE_URL: bookingBaseUrl
  BOOKING_API_KEY: '@Microsoft.KeyVault(SecretUri=${bookingApiKeyUri})'
  BOOKING_WEBHOOK_SECRETS: '@Microsoft.KeyVault(SecretUri=${bookingWebhookSecretsUri})'
  CHANGES_QUEUE: changesQueueName
  RECONCILE_QUEUE: reconcileQueueName
  MRBS_POLL_SCHEDULE: '*/10 * * * * *' // the mrbs_outbox timer binds %MRBS_POLL_SCHEDULE%
  MAX_DELIVERY_COUNT: string(maxDeliveryCount)
  ROOMS: string(rooms)
  CONFLICT_POLICY: conflictPolicy
}

// Only with GRAPH_AUTH_MODE=secret (discouraged): the client secret, from Key Vault.
var secretModeSettings = {
  GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${graphClientSecretUri})'
}

output id string = functionApp.id
output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
output graphNotificationUrl string = 'https://${functionApp.properties.defaultHostName}/api/graph/notifications'
output bookingWebhookUrl string = 'https://${functionApp.properties.defaultHostName}/api/booking/webhook'
