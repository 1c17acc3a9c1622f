// The six alerts of docs/operations.md, each with its runbook section, sent to one action group.
// Metric alert on Service Bus for dead letters; log alerts (scheduledQueryRules) on Application
// Insights for the rest, reading the requests table and calsync's custom metrics (customMetrics,
// names from calsync/telemetry/metrics.py — tests/test_infra_consistency.py keeps them in step).
//
// Timer runs: in OpenTelemetry mode the Functions host exports requests only for HTTP, Service
// Bus and Event Hubs triggers. calsync/telemetry/runs.py therefore emits, for every `maintenance`
// run, a SERVER span (a row in `requests`, so the failure-rate alert counts it) and the counter
// calsync.timer.runs, which alert 6 reads. tests/functions/test_timer_telemetry.py runs a failing
// maintenance run and finds both.

param namePrefix string
param location string
param tags object = {}
param applicationInsightsId string
param serviceBusId string
param functionAppName string

@description('Who is told when an alert fires. Empty: the action group has no receiver (add one in the portal).')
param alertEmail string = ''

@description('Failure rate of function executions (percent) over 15 minutes that raises the failure alert.')
param failureRatePercent int = 10

@description('Fewest executions in 15 minutes before the failure rate counts (avoids alerts on 1 of 2).')
param failureMinExecutions int = 10

@description('Conflicts in one hour that count as a spike.')
param conflictSpikeThreshold int = 20

@description('Failed maintenance runs in one hour (of four) that raise the maintenance alert; one failure alone is absorbed by the next run.')
param maintenanceFailuresPerHour int = 2

var emailReceivers = [
  {
    name: 'calsync-operator'
    emailAddress: alertEmail
    useCommonAlertSchema: true
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-oncall'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'calsync'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : emailReceivers
  }
}

// 1. Dead letters: a hint failed maxDeliveryCount times (runbook: "Dead-letter messages").
resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'calsync: messages in a dead-letter queue. Runbook: docs/operations.md#dead-letter-messages'
    severity: 2
    enabled: true
    scopes: [
      serviceBusId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// 2. Function failure rate (runbook: "Function failure rate").
resource failureRate 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-function-failure-rate'
  location: location
  tags: tags
  properties: {
    displayName: 'calsync: function failure rate'
    description: 'More than ${failureRatePercent}% of calsync function executions failed. Runbook: docs/operations.md#function-failure-rate'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'requests | where cloud_RoleName =~ "${functionAppName}" | summarize total = count(), failed = countif(success == false) | extend failure_percent = iff(total == 0, 0.0, 100.0 * failed / total) | where total >= ${failureMinExecutions} and failure_percent > ${failureRatePercent}'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// 3. Graph subscription renewal failures (runbook: "Subscription renewal failures").
resource renewalFailures 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-subscription-renewal-failures'
  location: location
  tags: tags
  properties: {
    displayName: 'calsync: Graph subscription renewal failures'
    description: 'The maintenance run failed to renew or recreate a room\'s Graph subscription. Runbook: docs/operations.md#subscription-renewal-failures'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "calsync.subscriptions.renewals" and tostring(customDimensions.outcome) == "failed" | summarize failures = sum(valueSum) by room = tostring(customDimensions.room) | where failures > 0'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// 4. Conflict spike (runbook: "Conflict spike").
resource conflictSpike 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-conflict-spike'
  location: location
  tags: tags
  properties: {
    displayName: 'calsync: conflict spike'
    description: 'More than ${conflictSpikeThreshold} booking conflicts in one hour. Runbook: docs/operations.md#conflict-spike'
    severity: 3
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "calsync.conflicts" | summarize conflicts = sum(valueSum) | where conflicts > ${conflictSpikeThreshold}'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// 5. Mass-deletion guard tripped: a room's sync stopped rather than delete (runbook: "Mass-deletion guard tripped").
resource massDeletionGuard 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-mass-deletion-guard'
  location: location
  tags: tags
  properties: {
    displayName: 'calsync: mass-deletion guard tripped'
    description: 'One side of a room suddenly looked empty; calsync deleted nothing and stopped that room. Runbook: docs/operations.md#mass-deletion-guard-tripped'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "calsync.mass_deletion_guard.trips" | summarize trips = sum(valueSum) by room = tostring(customDimensions.room), side = tostring(customDimensions.side) | where trips > 0'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// 6. The maintenance timer fails or does not run (runbook: "Maintenance runs failing").
// Fires when the last hour had maintenanceFailuresPerHour failed runs, or no successful run at
// all (the timer stopped, or every run failed). Reads calsync.timer.runs: the host exports no
// request for timer triggers, so this counter is the timer's own record of each run.
resource maintenanceRuns 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-maintenance-runs'
  location: location
  tags: tags
  properties: {
    displayName: 'calsync: maintenance runs failing'
    description: 'The maintenance timer failed ${maintenanceFailuresPerHour} times in an hour, or did not complete a run in an hour: subscriptions are not renewed, rooms not reconciled. Runbook: docs/operations.md#maintenance-runs-failing'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "calsync.timer.runs" and tostring(customDimensions.function) == "maintenance" | summarize succeeded = sumif(valueSum, tostring(customDimensions.outcome) == "succeeded"), failed = sumif(valueSum, tostring(customDimensions.outcome) == "failed") | where failed >= ${maintenanceFailuresPerHour} or succeeded == 0'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
