# Binary payloads through every prompt, byte for byte (issue 10). Drivers send binary records
# after the `>` prompt of AT+MPUBEX, AT+FSWRITE and the L610's length form of AT+MQTTPUB, and
# end their command lines with CR LF, CR or LF; harness/tests/features.rs runs these scenarios
# under all three. The payload holds every byte value (NUL, CR, LF, `>`, 0x1A, 0xFF, ...) and
# starts with an LF, which must be kept (fixtures/air780e-manual-notes.md item 13: the module
# swallows the LF of the command's CR LF, never the data's). After each payload the next
# command must be answered normally: nothing of the payload is left in the line.
# Sources: fixtures/air780e-manual-notes.md sections 6 and 14 (MPUBEX raw, 1..4100 bytes),
# the file-system chapter of the AT manual (AT+FSWRITE / AT+FSREAD, up to 10240 bytes),
# seed 002 section 3.3 and DIVERGENCES L-entries (the L610 length form, up to 1024 bytes).
@payload
Feature: Binary payloads after a prompt, byte for byte

  @hardware
  Scenario: AT+MPUBEX carries 2048 bytes of every value to the broker unchanged
    Given a simulated Air780E
    And an MQTT client "tool" subscribed to "bin/up" at QoS 1
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
    When the host publishes 2048 random bytes with AT+MPUBEX to "bin/up" at QoS 0
    Then client "tool" receives the random bytes on "bin/up"
    When the host runs:
      """
      AT
      OK
      AT+MQTTSTATU
      +MQTTSTATU :1
      OK
      """

  @hardware
  Scenario: AT+FSWRITE stores 2048 bytes of every value, and AT+FSREAD gives them back
    Given a simulated Air780E
    And the host runs:
      """
      ATE0
      OK
      AT+FSCREATE="blob.bin"
      OK
      """
    When the host writes 2048 random bytes into "blob.bin" with AT+FSWRITE
    And the host runs:
      """
      AT
      OK
      AT+FSFLSIZE="blob.bin"
      +FSFLSIZE: 2048
      OK
      """
    Then AT+FSREAD of "blob.bin" gives the random bytes
    When the host runs:
      """
      AT
      OK
      """

  @hardware
  Scenario: the L610's AT+MQTTPUB length form carries 1024 bytes of every value unchanged
    Given a simulated L610
    And an MQTT client "tool" subscribed to "bin/up" at QoS 1
    And the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"root","luat123456"
      OK
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      OK
      +MQTTOPEN: 1,1
      """
    When the host publishes 1024 random bytes with AT+MQTTPUB to "bin/up" at QoS 1
    Then the modem says "+MQTTPUB: 1,1"
    And client "tool" receives the random bytes on "bin/up"
    When the host runs:
      """
      AT
      OK
      """
