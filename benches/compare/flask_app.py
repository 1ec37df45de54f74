"""The quickstart's assignment-callback app, as a TaskRouter user first writes it: a Flask
route that answers every assignment callback with an empty JSON object (the reservation
stays pending until the app accepts it through the REST API).

    python flask_app.py PORT                            # Flask's development server
    gunicorn -w 2 -b 127.0.0.1:PORT flask_app:app       # the same app, 2 sync workers

scripts/bench.sh loads both with `trctl trigger`, beside `trctl serve`.
"""

import sys

from flask import Flask, Response

app = Flask(__name__)


@app.route("/assignment_callback", methods=["GET", "POST"])
def assignment_callback():
    return Response("{}", status=200, mimetype="application/json")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    app.run(host="127.0.0.1", port=port)
