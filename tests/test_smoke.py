from temporalio.testing import WorkflowEnvironment


async def test_time_skipping_server_starts(time_env: WorkflowEnvironment) -> None:
    assert time_env.supports_time_skipping


async def test_dev_server_has_search_attributes(dev_env: WorkflowEnvironment) -> None:
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

    resp = await dev_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=dev_env.client.namespace)
    )
    assert "OnethingStatus" in resp.custom_attributes
