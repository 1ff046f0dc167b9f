"""Durable state: resources as versioned JSON documents, and tags, behind one small interface."""
