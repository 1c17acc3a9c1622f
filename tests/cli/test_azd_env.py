"""`calsync --env NAME` reads a deployment's endpoints from azd's environment file."""

from __future__ import annotations

import pytest

from calsync.cli.azd_env import azd_values
from calsync.errors import ConfigurationError


def test_azd_environment_gives_the_table_endpoint_and_service_bus(tmp_path):
    (tmp_path / ".azure" / "prod").mkdir(parents=True)
    (tmp_path / ".azure" / "prod" / ".env").write_text(
        'TABLES_ENDPOINT="https://st.table.core.windows.net/"\nSERVICEBUS_NAMESPACE="sb.servicebus.windows.net"\n'
        'GRAPH_CLIENT_SECRET="never read"\n')  # fmt: skip
    (tmp_path / ".azure" / "config.json").write_text('{"version": 1, "defaultEnvironment": "prod"}')
    expected = {"TABLES_ENDPOINT": "https://st.table.core.windows.net/",
                "ServiceBusConnection__fullyQualifiedNamespace": "sb.servicebus.windows.net"}  # fmt: skip
    assert azd_values("prod", tmp_path) == expected
    assert azd_values(None, tmp_path) == expected
    with pytest.raises(ConfigurationError, match="no azd environment 'test'"):
        azd_values("test", tmp_path)
