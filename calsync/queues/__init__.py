"""Queues: enqueue ChangeHints and jobs (publisher) and read or replay dead letters.

Production sends to Azure Service Bus (ServiceBusHintPublisher) and the Functions host
delivers to the queue functions; tests and the local run use devstack.inprocess_queue,
which keeps the Service Bus semantics calsync relies on. Both implement HintPublisher.
"""

from calsync.queues.dead_letters import (
    DeadLetter,
    DeadLetterQueue,
    ServiceBusDeadLetters,
    replay_message,
)
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
    "OutgoingMessage",
    "ServiceBusDeadLetters",
    "ServiceBusHintPublisher",
    "hint_message",
    "job_message",
    "replay_message",
    "shared_service_bus_publisher",
    "to_service_bus_message",
]
