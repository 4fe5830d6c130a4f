"""The local runtime's pieces nucleus lite's test rig reuses, imported in one place.

The IoT Core stand-in (mosquitto with mutual TLS and the IoT-policy ACL), DynamoDB Local, the dummy
credentials only stand-ins accept, and the eventstream codec that lite's core bus also speaks.
"""

from local_greengrass.ipc.eventstream import Decoder, Header, encode_message
from local_greengrass.standins.credentials import dummy_credentials, send_json
from local_greengrass.standins.dynamodb_local import DynamoDBLocal
from local_greengrass.standins.mosquitto import OPERATOR, Mosquitto

__all__ = ["OPERATOR", "Decoder", "DynamoDBLocal", "Header", "Mosquitto", "dummy_credentials", "encode_message",
           "send_json"]
