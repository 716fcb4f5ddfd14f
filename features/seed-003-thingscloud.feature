# Replays the logs of seed 003 (../shared/seeds/003_481181ca8cc328e4.txt), a ThingsCloud blog
# post driving an Air724UG (firmware AirM2M_720U_V301836_LTE_AT) over AT. Verbatim copies of
# its blocks: fixtures/seed-logs/003-*.log (the file is named above each scenario).
#
# The simulator speaks the Air780E dialect; the Air724 commands used here answer the same.
# The log's placeholders are filled in: <AccessToken> / <ProjectKey> become AccessToken /
# ProjectKey (an account of the simulated cloud), <domain>,<port> becomes
# mqtt.thingscloud.example,1883 (the simulator routes every host to its broker).
@seed-003 @model-air724ug
Feature: Seed 003, an Air724 on the ThingsCloud platform

  Background:
    # Seed 003 is an Air724UG (AirM2M_720U_V301836_LTE_AT, its <ber> 99): @model-air724ug.
    Given a simulated Air780E whose broker also accepts "AccessToken" with password "ProjectKey"

  # 003-01-cpin.log .. 003-05-csq.log, in order.
  @section-check-network @hardware
  Scenario: network check
    When the host runs:
      """
      AT+CPIN?

      +CPIN: READY

      OK

      AT+CGATT?

      +CGATT: 1

      OK

      AT+CSTT

      OK

      AT+CIICR

      OK

      AT+CSQ

      +CSQ: 29,99

      OK
      """

  # 003-06-mconfig.log, 003-07-mipstart.log, 003-09-mconnect.log. The log stops at `OK`;
  # the module then confirms with `CONNACK OK` (seed 000 section 6.2, seed 001).
  @section-mqtt-connect @hardware
  Scenario: MQTT parameters, TCP connection and authentication in time
    When the host runs:
      """
      AT+MCONFIG=thingscloud,AccessToken,ProjectKey

      OK

      AT+MIPSTART=mqtt.thingscloud.example,1883

      OK

      CONNECT OK

      AT+MCONNECT=0,300

      OK

      CONNACK OK
      """

  # 003-07-mipstart.log, 003-08-closed.log, 003-10-mconnect-767.log: the cloud waits 5 s for
  # MQTT CONNECT after the TCP connect, then closes the link. The scenario waits 300 ms
  # instead, then gives the retry the cloud's 5 s.
  @section-server-kick @sim
  Scenario: the cloud closes a link that does not authenticate in time
    Given the server closes TCP links that send no MQTT CONNECT within 300 ms
    When the host runs:
      """
      AT+MCONFIG=thingscloud,AccessToken,ProjectKey
      OK
      AT+MIPSTART=mqtt.thingscloud.example,1883

      OK

      CONNECT OK
      """
    Then the modem says:
      """
      CLOSED
      """
    When the host runs:
      """

      AT+MCONNECT=0,300

      +CME ERROR: 767
      """
    Given the server closes TCP links that send no MQTT CONNECT within 5 s
    When the host runs:
      """
      AT+MIPSTART=mqtt.thingscloud.example,1883

      OK

      CONNECT OK

      AT+MCONNECT=0,300

      OK

      CONNACK OK
      """

  # 003-11-mpub-attributes.log and 003-12-mpub-data-message.log; the second attributes
  # report is the post's `\2C` example, sent the same way.
  @section-report-attributes @hardware
  Scenario: report attributes and custom data with escaped JSON
    Given an MQTT client "cloud" subscribed to "attributes"
    And an MQTT client "cloud" subscribed to "data/message"
    When the host runs:
      """
      AT+MCONFIG=thingscloud,AccessToken,ProjectKey
      OK
      AT+MIPSTART=mqtt.thingscloud.example,1883
      OK
      CONNECT OK
      AT+MCONNECT=0,300
      OK
      CONNACK OK
      AT+MPUB=attributes,0,0,{\22temperature\22:31.6}

      OK
      """
    Then client "cloud" receives on "attributes":
      """
      {"temperature":31.6}
      """
    When the host runs:
      """
      AT+MPUB=attributes,0,0,{\22temperature\22:31.6\2C\22humidity\22:65}
      OK
      AT+MPUB=data/message,0,0,hello_thingscloud

      OK
      """
    Then client "cloud" receives on "attributes":
      """
      {"temperature":31.6,"humidity":65}
      """
    And client "cloud" receives "hello_thingscloud" on "data/message"

  # 003-13-msub-attributes-push.log, 003-14-msub-command-send.log,
  # 003-15-msub-data-message-set.log, 003-17-msub-command-received.log.
  @section-subscribe @hardware
  Scenario: subscribe to attribute pushes and commands, receive a command
    Given an MQTT client "cloud"
    When the host runs:
      """
      AT+MCONFIG=thingscloud,AccessToken,ProjectKey
      OK
      AT+MIPSTART=mqtt.thingscloud.example,1883
      OK
      CONNECT OK
      AT+MCONNECT=0,300
      OK
      CONNACK OK
      AT+MSUB=attributes/push,0

      OK

      SUBACK
      AT+MSUB=command/send/+,0

      OK

      SUBACK
      AT+MSUB=data/message/set,0

      OK
      SUBACK  // not in the post's log, which stops at OK; the module confirms every MSUB (seed 000 section 8.1 note 3)
      """
    When client "cloud" publishes to "command/send/1000":
      """
      {"method":"restart","params":{"timeout":10},"id":1000}
      """
    # The post prints `53 byte`, but this payload is 54 bytes long (it was probably edited
    # after the capture); the module counts the bytes it received.
    Then the modem says:
      """
      +MSUB: "command/send/1000",54 byte,{"method":"restart","params":{"timeout":10},"id":1000}
      """

  # 003-18-mqttstatu-1.log and 003-19-mqttstatu-0.log. The post's log stops before `OK`;
  # drivers expect `+MQTTSTATU :1`, a blank line, `OK` (fixtures/air780e-manual-notes.md
  # section 8).
  @section-mqttstatu @hardware
  Scenario: MQTT connection state before and after closing
    When the host runs:
      """
      AT+MCONFIG=thingscloud,AccessToken,ProjectKey
      OK
      AT+MIPSTART=mqtt.thingscloud.example,1883
      OK
      CONNECT OK
      AT+MCONNECT=0,300
      OK
      CONNACK OK
      AT+MQTTSTATU

      +MQTTSTATU :1
      OK  // not in the post's log
      AT+MDISCONNECT
      OK
      AT+MIPCLOSE
      OK
      AT+MQTTSTATU
      +MQTTSTATU :0
      OK  // not in the post's log
      """
