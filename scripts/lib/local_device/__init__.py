"""Helpers shared by `make demo`, the end-to-end tests and the pipeline benchmark: a sample video from
real photos, the overlay deployment document, a handle on a running local Greengrass runtime, IPC
observers and the DynamoDB read-back."""
