"""Every topic the pipeline uses, in one place. Local topics are Greengrass IPC pub/sub; the
``iot_*`` helpers build IoT Core topics scoped to one thing, which the IoT policy allows per thing."""

FRAMES = "smartcam/frames"
DETECTIONS = "smartcam/detections"
LOCAL_CAPTURE_COMMANDS = "smartcam/capture/commands"
LOCAL_CAPTURE_STATUS = "smartcam/capture/status"
# What became of each frame, from every stage that decides it (see smartcam.contracts.receipts).
RECEIPTS = "smartcam/receipts"
# Tracked objects as events, from EventTracker (see smartcam.contracts.events).
EVENTS = "smartcam/events"
# Metrics for AWS's aws.greengrass.Cloudwatch component (its default topics; see smartcam.contracts.metrics).
CLOUDWATCH_METRIC_PUT = "cloudwatch/metric/put"
CLOUDWATCH_METRIC_PUT_STATUS = "cloudwatch/metric/put/status"
# Frames picked for labeling, from EventTracker's capture policy to DynamoWriter (smartcam.contracts.captures).
DATA_CAPTURES = "smartcam/data-captures"


def health(component_name: str) -> str:
    return f"smartcam/health/{component_name}"


FLEET_CAPTURE_COMMANDS = "smartcam/fleet/capture"


def iot_capture_commands(thing_name: str) -> str:
    return f"smartcam/{thing_name}/capture"


def iot_capture_status(thing_name: str) -> str:
    return f"smartcam/{thing_name}/capture/status"


def iot_detection_summary(thing_name: str) -> str:
    return f"smartcam/{thing_name}/detections"


def iot_events(thing_name: str) -> str:
    return f"smartcam/{thing_name}/events"


def iot_writer_reports(thing_name: str) -> str:
    return f"smartcam/{thing_name}/writer"


def iot_component_status(thing_name: str, component: str) -> str:
    return f"smartcam/{thing_name}/status/{component}"
