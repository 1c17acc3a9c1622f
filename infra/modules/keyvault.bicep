// Key Vault for calsync's secrets, with Azure RBAC (no access policies). The function app reads
// them through Key Vault references in its app settings; nothing here holds a secret value.
// Values are set by an operator (docs/deploy.md) or, optionally, passed to the deployment as
// @secure() parameters from the environment — never written into a parameters file.

param name string
param location string
param tags object = {}

@description('Disabled: reachable only through the private endpoint of a private deployment (main.bicep: vnetEnabled).')
@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'

@description('Log Analytics workspace that receives the vault\'s audit log (every secret read, by whom).')
param logAnalyticsWorkspaceId string

@secure()
@description('Optional: Graph clientState to store as secret graph-client-state. Empty: set it with az keyvault secret set.')
param graphClientState string = ''

@secure()
@description('Optional: comma-separated booking webhook HMAC secrets (secret booking-webhook-secrets).')
param bookingWebhookSecrets string = ''

@secure()
@description('Optional: the booking system API key (secret booking-api-key).')
param bookingApiKey string = ''

@secure()
@description('Optional: Graph client secret (secret graph-client-secret), only for GRAPH_AUTH_MODE=secret.')
param graphClientSecret string = ''

var secretNames = {
  graphClientState: 'graph-client-state'
  bookingWebhookSecrets: 'booking-webhook-secrets'
  bookingApiKey: 'booking-api-key'
  graphClientSecret: 'graph-client-secret'
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Disabled' ? 'Deny' : 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource graphClientStateSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientState)) {
  parent: vault
  name: secretNames.graphClientState
  properties: {
    value: graphClientState
  }
}

resource bookingWebhookSecretsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(bookingWebhookSecrets)) {
  parent: vault
  name: secretNames.bookingWebhookSecrets
  properties: {
    value: bookingWebhookSecrets
  }
}

resource bookingApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(bookingApiKey)) {
  parent: vault
  name: secretNames.bookingApiKey
  properties: {
    value: bookingApiKey
  }
}

resource graphClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientSecret)) {
  parent: vault
  name: secretNames.graphClientSecret
  properties: {
    value: graphClientSecret
  }
}

// Audit of secret reads: Key Vault's AuditEvent log (every operation: caller identity, IP, result)
// goes to the deployment's Log Analytics workspace, table AzureDiagnostics (docs/operations.md).
resource auditToLogAnalytics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output vaultUri string = vault.properties.vaultUri
// Versionless secret URIs: a Key Vault reference follows the latest version (rotation needs no redeploy).
output graphClientStateUri string = '${vault.properties.vaultUri}secrets/${secretNames.graphClientState}/'
output bookingWebhookSecretsUri string = '${vault.properties.vaultUri}secrets/${secretNames.bookingWebhookSecrets}/'
output bookingApiKeyUri string = '${vault.properties.vaultUri}secrets/${secretNames.bookingApiKey}/'
output graphClientSecretUri string = '${vault.properties.vaultUri}secrets/${secretNames.graphClientSecret}/'
