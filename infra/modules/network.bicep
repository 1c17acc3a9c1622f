// The virtual network of a private deployment (main.bicep: vnetEnabled=true). Two subnets, as in
// Azure-Samples/functions-quickstart-python-http-azd (infra/app/vnet.bicep):
//   private-endpoints  the private endpoints of Storage, Service Bus and Key Vault (privateendpoints.bicep)
//   app                the Function App's outbound VNet integration; Flex Consumption needs the subnet
//                      delegated to Microsoft.App/environments (not Microsoft.Web/serverFarms: Flex runs on
//                      Container Apps infrastructure)
// Peer this network with a hub that has a VPN or ExpressRoute gateway to reach an on-premises booking
// system or database; choose addressPrefix so that it does not overlap the networks it is peered with.

param name string
param location string
param tags object = {}

@description('Address space of the network; the subnets are its first /24 blocks after the first.')
param addressPrefix string = '10.0.0.0/16'

var privateEndpointSubnetName = 'private-endpoints'
var appSubnetName = 'app'

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: privateEndpointSubnetName
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
      {
        name: appSubnetName
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 2)
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
          privateEndpointNetworkPolicies: 'Disabled'
          privateLinkServiceNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

output id string = vnet.id
output name string = vnet.name
output privateEndpointSubnetId string = '${vnet.id}/subnets/${privateEndpointSubnetName}'
output appSubnetId string = '${vnet.id}/subnets/${appSubnetName}'
