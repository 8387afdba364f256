"""The status page (HTTP function): HTML and JSON views of Firestore, and the "Train new model" form."""
