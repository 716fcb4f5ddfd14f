# What drivers written for the real modules rely on (issue 10): the Air780E's default MQTT
# configuration when no AT+MCONFIG is sent (fixtures/DIVERGENCES.md A25), the L610's long
# client ids (L17) and its will length form (L18), and prompts that a host abandons (A24).
@behaviour @drivers
Feature: Defaults and forms real drivers use

  @sim
  Scenario: MCONNECT without MCONFIG connects with the default configuration
    Given a simulated Air780E whose broker allows anonymous clients
    And an MQTT client "tool" subscribed to "anon/up"
    When the host runs:
      """
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      AT+MPUB="anon/up",0,0,"no MCONFIG sent"
      OK
      """
    Then client "tool" receives "no MCONFIG sent" on "anon/up"

  # The default carries no user name: a broker that wants one refuses it, and the module
  # shows the link ending as for any refusal (A5).
  @sim
  Scenario: MCONNECT without MCONFIG on a broker that wants a password
    Given a simulated Air780E
    When the host runs:
      """
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      """
    Then the modem says:
      """
      CLOSED
      """

  @hardware
  Scenario: the L610 connects with a 55-byte client id and a 40-byte user name
    Given a simulated L610 whose broker also accepts "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu" with password "pw"
    And an MQTT client "tool" subscribed to "long/id"
    When the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu","pw","a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d"
      OK
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      AT+MQTTPUB=1,"long/id",0,0,"hello"
      OK
      +MQTTPUB: 1,1
      """
    Then client "tool" receives "hello" on "long/id"

  @sim
  Scenario: the L610 will length form: the payload after the prompt is the will
    Given a simulated L610
    And an MQTT client "tool" subscribed to "status" at QoS 1
    When the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"root","luat123456","l610-will"
      OK
      AT+MQTTWILL=1,"status",1,0,18
      >
      """
    And the host sends the data "{\"state\":\r\n\"gone\"}"
    Then the modem says:
      """
      OK
      """
    When the host runs:
      """
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      """
    And the fault "closed" is injected
    Then the modem says:
      """
      +MQTTBREAK: 1,1
      """
    And client "tool" receives "{\"state\":\r\n\"gone\"}" on "status" with QoS 1
