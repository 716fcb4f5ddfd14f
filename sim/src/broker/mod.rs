//! Embedded MQTT 3.1.1 broker (placeholder until written).
