// The one user-assigned managed identity calsync runs as: host storage, tables, Service Bus,
// Key Vault references, Application Insights and (with GRAPH_AUTH_MODE=managed-identity) Graph.

param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
