from __future__ import annotations

from reconciler.cloud.query_responses import ClientInfoResponse, ClientSetResponse, StatsResponse
from reconciler.cloud.responses import GroupIdListResponse


def test_group_id_list_parses_the_documented_shape():
    parsed = GroupIdListResponse.model_validate(
        {
            "RequestId": "r",
            "Data": {
                "MqttGroupIdDo": [
                    {
                        "GroupId": "GID_test",
                        "InstanceId": "post-cn-1",
                        "IndependentNaming": True,
                        "CreateTime": 1555293113000,
                        "UpdateTime": 1555293114000,
                        "SomethingNew": "ignored",
                    }
                ]
            },
        }
    )
    (record,) = parsed.data.items
    assert (record.group_id, record.instance_id, record.independent_naming) == (
        "GID_test",
        "post-cn-1",
        True,
    )
    assert (record.create_time, record.update_time) == (1555293113000, 1555293114000)


def test_empty_group_id_list_parses():
    assert GroupIdListResponse.model_validate({"RequestId": "r", "Data": {}}).data.items == []
    assert GroupIdListResponse.model_validate({"RequestId": "r"}).data.items == []


def test_client_info_reads_the_misspelled_subscription_field():
    parsed = ClientInfoResponse.model_validate(
        {
            "RequestId": "r",
            "MqttClientInfoDo": {
                "ClientId": "GID_a@@@dev1",
                "Online": True,
                "LastTouch": 1570960501000,
                "SocketChannel": "/10.0.0.1:1234",
                "SubScriptonData": {
                    "SubscriptionDo": [{"ParentTopic": "orders", "SubTopic": "/a/", "Qos": 1}]
                },
            },
        }
    )
    info = parsed.client_info
    assert info.online
    assert info.socket_channel == "/10.0.0.1:1234"
    (sub,) = info.subscriptions.items
    assert (sub.parent_topic, sub.sub_topic, sub.qos) == ("orders", "/a/", 1)


def test_stats_and_online_count_parse():
    stats = StatsResponse.model_validate(
        {
            "RequestId": "r",
            "Data": {
                "Title": "t",
                "XUnit": "x",
                "YUnit": "y",
                "Records": {"StatsDataDo": [{"X": 1570960501000, "Y": 2}, {"X": 1, "Y": 0.5}]},
            },
        }
    ).data
    assert [(p.x, p.y) for p in stats.points] == [(1570960501000, 2), (1, 0.5)]
    assert isinstance(stats.points[0].y, int)
    count = ClientSetResponse.model_validate(
        {"RequestId": "r", "MqttClientSetDo": {"OnlineCount": 4}}
    )
    assert count.client_set.online_count == 4


def test_a_listing_row_belongs_to_the_instance_it_names_or_to_the_one_asked_when_it_names_none():
    # A shared-namespace listing shows other instances' GIDs too: those are never ours.
    rows = {"post-cn-1": True, "": True, "post-cn-2": False}
    for listed_instance, ours in rows.items():
        record = GroupIdListResponse.model_validate(
            {
                "Data": {
                    "MqttGroupIdDo": [
                        {
                            "GroupId": "GID_test",
                            "InstanceId": listed_instance,
                            "IndependentNaming": False,
                            "CreateTime": 1,
                            "UpdateTime": 1,
                        }
                    ]
                },
                "RequestId": "r",
            }
        ).data.items[0]
        assert record.belongs_to("post-cn-1") is ours
