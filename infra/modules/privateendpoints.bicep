// Private endpoints of a private deployment (main.bicep: vnetEnabled=true): Storage (blob, table,
// queue), the Service Bus namespace and the Key Vault each get a private IP in the network's
// private-endpoints subnet, and a private DNS zone linked to the network resolves their usual host
// names (st<token>.table.core.windows.net, ...) to those IPs, so the app's settings stay the same.
// Shape as in Azure-Samples/functions-quickstart-dotnet-azd-service-bus
// (infra/app/servicebus-privateEndpoint.bicep) and functions-quickstart-python-http-azd
// (infra/app/storage-PrivateEndpoint.bicep), written without registry modules.
//
// Zone names: the storage zones follow the cloud's storage suffix; Service Bus and Key Vault zones
// are the public cloud's (privatelink.servicebus.windows.net, privatelink.vaultcore.azure.net) —
// sovereign clouds use other names.

param namePrefix string
param location string
param tags object = {}

@description('Resource id of the virtual network whose DNS resolves the private names.')
param vnetId string

@description('Resource id of the subnet that holds the private endpoints.')
param subnetId string

param storageAccountId string
param serviceBusId string
param keyVaultId string

// groupId: the sub-resource the endpoint connects to (Microsoft.Network/privateEndpoints groupIds).
var endpoints = [
  {
    name: 'blob'
    target: storageAccountId
    groupId: 'blob'
    zone: 'privatelink.blob.${environment().suffixes.storage}'
  }
  {
    name: 'table'
    target: storageAccountId
    groupId: 'table'
    zone: 'privatelink.table.${environment().suffixes.storage}'
  }
  {
    name: 'queue'
    target: storageAccountId
    groupId: 'queue'
    zone: 'privatelink.queue.${environment().suffixes.storage}'
  }
  {
    name: 'servicebus'
    target: serviceBusId
    groupId: 'namespace'
    zone: 'privatelink.servicebus.windows.net'
  }
  {
    name: 'vault'
    target: keyVaultId
    groupId: 'vault'
    zone: 'privatelink.vaultcore.azure.net'
  }
]

resource zones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for endpoint in endpoints: {
    name: endpoint.zone
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (endpoint, i) in endpoints: {
    parent: zones[i]
    name: 'link-${endpoint.name}'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnetId
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for endpoint in endpoints: {
    name: '${namePrefix}-${endpoint.name}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: subnetId
      }
      privateLinkServiceConnections: [
        {
          name: endpoint.name
          properties: {
            privateLinkServiceId: endpoint.target
            groupIds: [
              endpoint.groupId
            ]
          }
        }
      ]
    }
  }
]

// Registers the endpoint's IP in its zone (and keeps it there when the IP changes).
resource dnsZoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: endpoint.name
          properties: {
            privateDnsZoneId: zones[i].id
          }
        }
      ]
    }
  }
]
