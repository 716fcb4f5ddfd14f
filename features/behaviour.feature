# Behaviour the seed logs describe in prose but do not print, or that a driver depends on.
# Sources: seed 000 FAQ 14 and seed 001 FAQ 7 (the 4-slot cache overwrites the oldest),
# fixtures/air780e-manual-notes.md sections 6 and 14 (MPUBEX raw payloads, +MSUB by length),
# seed 000 section 1.2 (retained messages), fixtures/DIVERGENCES.md A16 (one publish in flight).
@behaviour
Feature: Behaviour beyond the logs

  Background:
    Given a simulated Air780E
    And an MQTT client "tool"
    And the host runs:
      """
      AT+MCONFIG=868488076771714,root,luat123456
      OK
      AT+MIPSTART="airtest.openluat.com","1883"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """

  @hardware
  Scenario: the cache holds four messages and the fifth overwrites the oldest
    When the host runs:
      """
      AT+MSUB="cache/t",0
      OK
      SUBACK
      AT+MQTTMSGSET=1
      OK
      """
    And client "tool" publishes "m0" to "cache/t"
    And client "tool" publishes "m1" to "cache/t"
    And client "tool" publishes "m2" to "cache/t"
    And client "tool" publishes "m3" to "cache/t"
    And client "tool" publishes "m4" to "cache/t"
    Then the modem says:
      """
      +MSUB: 0
      +MSUB: 1
      +MSUB: 2
      +MSUB: 3
      +MSUB: 0
      """
    When the host runs:
      """
      AT+MQTTMSGGET
      +MSUB: "cache/t",2 byte,m1
      +MSUB: "cache/t",2 byte,m2
      +MSUB: "cache/t",2 byte,m3
      +MSUB: "cache/t",2 byte,m4
      OK
      """

  @hardware
  Scenario: MPUBEX carries CR LF, quotes, commas and NUL unchanged
    Given client "tool" subscribes to "raw/t" at QoS 1
    When the host publishes with AT+MPUBEX to "raw/t" at QoS 1 the payload "line 1\r\nOK\r\n\"quoted\", comma\0NUL"
    Then the modem says:
      """
      OK
      PUBACK
      """
    And client "tool" receives "line 1\r\nOK\r\n\"quoted\", comma\0NUL" on "raw/t" with QoS 1

  @hardware
  Scenario: a received payload with CR LF is framed by its length
    When the host runs:
      """
      AT+MSUB="raw/in",0
      OK
      SUBACK
      """
    And client "tool" publishes "a\r\nOK\r\n+MSUB: 0\r\n" to "raw/in"
    Then the modem receives on "raw/in" the payload "a\r\nOK\r\n+MSUB: 0\r\n"
    When the host sends "AT"
    Then the modem answers "OK"

  # Both commands reach the module in one read, so the first PUBACK cannot come between them.
  @hardware
  Scenario: a second QoS 1 publish while one is in flight is refused
    When the host sends in one write:
      """
      AT+MPUB="busy/t",1,0,"first"
      AT+MPUB="busy/t",1,0,"second"
      """
    Then the modem says:
      """
      OK
      +CME ERROR: 767
      PUBACK
      """

  @hardware
  Scenario: a retained message reaches a later subscriber, both ways
    When client "tool" publishes "kept by the broker" to "retained/down" at QoS 1 retained
    And the host runs:
      """
      AT+MSUB="retained/down",0
      OK
      SUBACK
      +MSUB: "retained/down",18 byte,kept by the broker
      AT+MPUB="retained/up",1,1,"kept for later"
      OK
      PUBACK
      """
    And client "late" subscribes to "retained/up"
    Then client "late" receives "kept for later" on "retained/up" retained
