// calsync in Azure: one resource group holding the Function App (Flex Consumption, Python), its
// storage, Service Bus, Key Vault, Log Analytics + Application Insights, the managed identity and
// the alerts. Deployed by `azd up` (azure.yaml, main.parameters.json) or
// `az deployment group create` (docs/deploy.md). No secret value is an input of any file here:
// secrets live in Key Vault and reach the app as Key Vault references.
//
// Plain resource declarations in modules/ follow the shapes of Azure's Flex Consumption samples
// (Azure-Samples/functions-quickstart-python-http-azd); no registry modules, so every property can
// be reviewed here and the template deploys without access to the Bicep public registry.

targetScope = 'resourceGroup'

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME); seeds the unique suffix of resource names.')
param environmentName string

// Regions that offer the Flex Consumption plan: the list of Azure-Samples/functions-quickstart-python-http-azd
// (infra/main.bicep). A region outside it fails here, before anything is created, instead of at the
// plan. Refresh it from `az functionapp list-flexconsumption-locations` when Azure adds regions.
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
@description('Region of every resource; must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

@description('Object id of the person or group deploying (azd: AZURE_PRINCIPAL_ID); gets Key Vault Secrets Officer and data roles. Empty: none.')
param principalId string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param principalType string = 'User'

// --- calsync ---------------------------------------------------------------------------------

@description('Base URL of the booking system\'s REST API (BOOKING_BASE_URL).')
param bookingBaseUrl string

@description('Synchronised rooms, given to calsync as the JSON setting ROOMS: [{"key": "...", "mailbox": "...", "booking_room_id": "..."}].')
param rooms array = []

@description('How calsync authenticates to Microsoft Graph (GRAPH_AUTH_MODE). managed-identity (recommended): the identity deployed here holds the Graph permission, scoped by Exchange RBAC; secret: an app registration\'s client secret from Key Vault (discouraged). Certificate and workload-identity modes are for runs outside Azure (docs/deploy.md).')
@allowed(['managed-identity', 'secret'])
param graphAuthMode string = 'managed-identity'

@description('Tenant of the room mailboxes (GRAPH_TENANT_ID).')
param graphTenantId string = tenant().tenantId

@description('Application (client) id of the app registration (GRAPH_CLIENT_ID); only with graphAuthMode=secret.')
param graphClientId string = ''

@allowed(['first-come', 'outlook-wins', 'booking-wins'])
param conflictPolicy string = 'first-come'

@description('Prefix of calsync\'s table names (TABLE_PREFIX).')
param tablePrefix string = 'calsync'

@description('Deliveries of a hint before dead-lettering: the queues\' maxDeliveryCount and MAX_DELIVERY_COUNT.')
@minValue(1)
@maxValue(2000)
param maxDeliveryCount int = 10

@allowed(['3.11', '3.12'])
@description('Python version of the Function App; keep it the version CI tests with.')
param pythonVersion string = '3.11'

@description('E-mail address alerts are sent to; empty: add receivers to the action group later.')
param alertEmail string = ''

@description('Conflicts per hour that raise the conflict-spike alert.')
param conflictSpikeThreshold int = 20

// --- private networking ----------------------------------------------------------------------
// As vnetEnabled in Azure-Samples/functions-quickstart-python-http-azd: when true, a virtual
// network (modules/network.bicep) with private endpoints and private DNS zones for Storage (blob,
// table, queue), Service Bus and Key Vault (modules/privateendpoints.bicep); their public network
// access is disabled, and the Function App reaches them through VNet integration. Service Bus then
// runs on Premium (private endpoints need it). The app's webhooks stay public: Graph and the
// booking system call them from the internet. Operators then reach tables, queues and the vault
// only from inside the network (docs/deploy.md, "Private networking").

@description('Put Storage, Service Bus and Key Vault behind private endpoints in a new VNet, with VNet integration for the app (Service Bus becomes Premium).')
param vnetEnabled bool = false

@description('Address space of the VNet (vnetEnabled only); must not overlap networks it is peered with, e.g. the one leading to an on-premises booking system.')
param vnetAddressPrefix string = '10.0.0.0/16'

// Optional secret values for pipelines that hold them in their own secret store. Leave empty
// and set them with `az keyvault secret set` (docs/deploy.md); never put them in a file.
@secure()
param graphClientState string = ''
@secure()
param bookingWebhookSecrets string = ''
@secure()
param bookingApiKey string = ''
@secure()
param graphClientSecret string = ''

// --- names -----------------------------------------------------------------------------------

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
  application: 'calsync'
}
var functionAppName = '${abbrs.functionApps}calsync-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'

// --- resources -------------------------------------------------------------------------------

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: '${abbrs.managedIdentities}calsync-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: '${abbrs.logAnalyticsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: '${abbrs.storageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    location: location
    tags: tags
    changesQueueName: 'changes'
    reconcileQueueName: 'reconcile'
    maxDeliveryCount: maxDeliveryCount
    sku: vnetEnabled ? 'Premium' : 'Standard'
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: '${abbrs.keyVaults}${resourceToken}'
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    graphClientState: graphClientState
    bookingWebhookSecrets: bookingWebhookSecrets
    bookingApiKey: bookingApiKey
    graphClientSecret: graphClientSecret
  }
}

module network 'modules/network.bicep' = if (vnetEnabled) {
  name: 'network'
  params: {
    name: '${abbrs.virtualNetworks}calsync-${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
  }
}

module privateEndpoints 'modules/privateendpoints.bicep' = if (vnetEnabled) {
  name: 'privateendpoints'
  params: {
    namePrefix: '${abbrs.privateEndpoints}calsync-${resourceToken}'
    location: location
    tags: tags
    vnetId: vnetEnabled ? network.outputs.id : ''
    subnetId: vnetEnabled ? network.outputs.privateEndpointSubnetId : ''
    storageAccountId: storage.outputs.id
    serviceBusId: serviceBus.outputs.id
    keyVaultId: keyVault.outputs.id
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusName: serviceBus.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    operatorPrincipalId: principalId
    operatorPrincipalType: principalType
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  // The app starts resolving Key Vault references and opening queues as soon as it exists: its roles,
  // and in a private deployment the endpoints it reaches them through, must be there first.
  dependsOn: [
    rbac
    privateEndpoints
  ]
  params: {
    name: functionAppName
    planName: '${abbrs.serverFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    tableEndpoint: storage.outputs.tableEndpoint
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    changesQueueName: serviceBus.outputs.changesQueueName
    reconcileQueueName: serviceBus.outputs.reconcileQueueName
    maxDeliveryCount: maxDeliveryCount
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    graphClientStateUri: keyVault.outputs.graphClientStateUri
    bookingWebhookSecretsUri: keyVault.outputs.bookingWebhookSecretsUri
    bookingApiKeyUri: keyVault.outputs.bookingApiKeyUri
    graphClientSecretUri: keyVault.outputs.graphClientSecretUri
    graphAuthMode: graphAuthMode
    graphTenantId: graphTenantId
    graphClientId: graphClientId
    bookingBaseUrl: bookingBaseUrl
    rooms: rooms
    conflictPolicy: conflictPolicy
    tablePrefix: tablePrefix
    pythonVersion: pythonVersion
    virtualNetworkSubnetId: vnetEnabled ? network.outputs.appSubnetId : ''
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: '${abbrs.scheduledQueryRules}calsync-${resourceToken}'
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    serviceBusId: serviceBus.outputs.id
    functionAppName: functionApp.outputs.name
    alertEmail: alertEmail
    conflictSpikeThreshold: conflictSpikeThreshold
  }
}

// --- outputs (azd stores them in the environment; docs/deploy.md uses them) -------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_FUNCTION_NAME string = functionApp.outputs.name
output SERVICE_CALSYNC_NAME string = functionApp.outputs.name
output CALSYNC_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output CALSYNC_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output TABLES_ENDPOINT string = storage.outputs.tableEndpoint
output GRAPH_NOTIFICATION_URL string = functionApp.outputs.graphNotificationUrl
output BOOKING_WEBHOOK_URL string = functionApp.outputs.bookingWebhookUrl
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output VNET_ID string = vnetEnabled ? network.outputs.id : ''
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
