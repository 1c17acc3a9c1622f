// Storage account for the Functions host (AzureWebJobsStorage), the Flex Consumption deployment
// package container, and calsync's own tables. Shared-key access is off: every client uses the
// managed identity (Storage Blob Data Owner, Storage Table Data Contributor; see rbac.bicep).

param name string
param location string
param tags object = {}
param deploymentContainerName string

@description('Disabled: reachable only through the private endpoints of a private deployment (main.bicep: vnetEnabled).')
@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'

// Private: deny everything public, as functions-quickstart-python-http-azd does with vnetEnabled.
var privateNetworkAcls = {
  defaultAction: 'Deny'
  bypass: 'None'
}
var publicNetworkAcls = {
  defaultAction: 'Allow'
  bypass: 'AzureServices'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: publicNetworkAccess == 'Disabled' ? privateNetworkAcls : publicNetworkAcls
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  resource tableServices 'tableServices' = {
    name: 'default'
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
// calsync's TABLES_ENDPOINT: https://<account>.table.core.windows.net (no trailing slash).
output tableEndpoint string = 'https://${storage.name}.table.${environment().suffixes.storage}'
