// Service Bus namespace (Standard: sessions and duplicate detection need it; Premium in a private
// deployment, since only Premium namespaces take private endpoints) with calsync's two queues.
// SAS keys are disabled (disableLocalAuth): the Functions bindings and the CLI connect with the
// managed identity through ServiceBusConnection__fullyQualifiedNamespace.

param name string
param location string
param tags object = {}

@description('Queue of ChangeHints; must equal calsync\'s CHANGES_QUEUE setting.')
param changesQueueName string = 'changes'

@description('Queue of per-room reconcile jobs; must equal calsync\'s RECONCILE_QUEUE setting.')
param reconcileQueueName string = 'reconcile'

@description('Standard, or Premium (one messaging unit) for private endpoints (main.bicep: vnetEnabled).')
@allowed(['Standard', 'Premium'])
param sku string = 'Standard'

@description('Disabled: reachable only through the private endpoint of a private deployment.')
@allowed(['Enabled', 'Disabled'])
param publicNetworkAccess string = 'Enabled'

@description('Deliveries before a message is dead-lettered; the same value is given to calsync as MAX_DELIVERY_COUNT.')
@minValue(1)
@maxValue(2000)
param maxDeliveryCount int = 10

var standardSku = {
  name: 'Standard'
  tier: 'Standard'
}
// One messaging unit: the smallest Premium namespace.
var premiumSku = {
  name: 'Premium'
  tier: 'Premium'
  capacity: 1
}

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: sku == 'Premium' ? premiumSku : standardSku
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: publicNetworkAccess
  }
}

// One session per room: hints of a room are applied one at a time, in order. MessageIds are
// deterministic, so duplicate detection collapses repeated notifications of the same change.
resource changesQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: namespace
  name: changesQueueName
  properties: {
    requiresSession: true
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P7D'
    lockDuration: 'PT2M'
    enablePartitioning: false
  }
}

resource reconcileQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: namespace
  name: reconcileQueueName
  properties: {
    requiresSession: false
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    maxDeliveryCount: maxDeliveryCount
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P1D'
    lockDuration: 'PT5M'
    enablePartitioning: false
  }
}

output id string = namespace.id
output name string = namespace.name
// Host name only, as the identity-based binding expects (<namespace>.servicebus.windows.net).
// serviceBusEndpoint reads https://<namespace>.servicebus.windows.net:443/ (sovereign clouds differ).
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]
output changesQueueName string = changesQueue.name
output reconcileQueueName string = reconcileQueue.name
