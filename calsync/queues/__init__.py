"""Queues: enqueue ChangeHints and jobs (publisher), run queues in-process (inprocess), dead letters.

Production sends to Azure Service Bus (ServiceBusHintPublisher) and the Functions host
delivers to the queue functions; tests and the local run use InProcessQueue, which keeps
the Service Bus semantics calsync relies on. Both implement HintPublisher.
"""

from calsync.queues.dead_letters import (
    DeadLetter,
    DeadLetterQueue,
    InProcessDeadLetters,
    ServiceBusDeadLetters,
    replay_message,
)
from calsync.queues.inprocess import InProcessQueue, ManualClock, QueueStats
from calsync.queues.publisher import (
    HintPublisher,
    OutgoingMessage,
    ServiceBusHintPublisher,
    hint_message,
    job_message,
    shared_service_bus_publisher,
    to_service_bus_message,
)

__all__ = [
    "DeadLetter",
    "DeadLetterQueue",
    "HintPublisher",
    "InProcessDeadLetters",
    "InProcessQueue",
    "ManualClock",
    "OutgoingMessage",
    "QueueStats",
    "ServiceBusDeadLetters",
    "ServiceBusHintPublisher",
    "hint_message",
    "job_message",
    "replay_message",
    "shared_service_bus_publisher",
    "to_service_bus_message",
]
