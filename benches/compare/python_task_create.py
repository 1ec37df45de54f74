"""One task create from a fresh Python process with Twilio's helper library, the way a
script run from a shell or a cron job pays for it: interpreter start, `import twilio`,
one request. The only change to the library is the host: requests for
https://taskrouter.twilio.com go to the emulator at TRCTL_BASE_URL instead.

    TRCTL_BASE_URL=… TWILIO_ACCOUNT_SID=… TWILIO_AUTH_TOKEN=… \
        python python_task_create.py WORKSPACE_SID WORKFLOW_SID
"""

import os
import sys

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

TWILIO_HOST = "https://taskrouter.twilio.com"


class EmulatorHttpClient(TwilioHttpClient):
    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_HOST):
            url = os.environ["TRCTL_BASE_URL"].rstrip("/") + url[len(TWILIO_HOST):]
        return super().request(method, url, *args, **kwargs)


def main():
    workspace, workflow = sys.argv[1], sys.argv[2]
    client = Client(
        os.environ["TWILIO_ACCOUNT_SID"],
        os.environ["TWILIO_AUTH_TOKEN"],
        http_client=EmulatorHttpClient(),
    )
    task = client.taskrouter.v1.workspaces(workspace).tasks.create(
        workflow_sid=workflow, attributes='{"selected_language":"es"}'
    )
    if not task.sid.startswith("WT"):
        sys.exit(f"unexpected task {task.sid}")


if __name__ == "__main__":
    main()
