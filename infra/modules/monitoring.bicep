// Log Analytics workspace and workspace-based Application Insights. Local (instrumentation-key)
// authentication is off: calsync and the Functions host send telemetry with the managed identity,
// which holds Monitoring Metrics Publisher on the component (see rbac.bicep).

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object = {}
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output applicationInsightsId string = appInsights.id
output applicationInsightsName string = appInsights.name
// Not a secret: with local auth off, the connection string only says where to send.
output connectionString string = appInsights.properties.ConnectionString
output logAnalyticsId string = workspace.id
