# The faults of features/faults.feature on the Fibocom L610 (README "Fault injection"): its
# URCs are `+MQTTBREAK: <id>,<cause>` and `+MIPCALL: 0` (fixtures/DIVERGENCES.md L11, F4).
@faults @l610
Feature: Injected faults on the L610

  Background:
    Given a simulated L610
    And an MQTT client "tool" subscribed to "status" at QoS 1
    And the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"root","luat123456","l610-dev"
      OK
      AT+MQTTWILL=1,"status",1,0,"gone"
      OK
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      """

  @sim
  Scenario: closed: +MQTTBREAK with cause 1, the will fires, the client opens again
    When the fault "closed" is injected
    Then the modem says:
      """
      +MQTTBREAK: 1,1
      """
    And client "tool" receives "gone" on "status" with QoS 1
    When the host runs:
      """
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      """

  @sim
  Scenario: reset: the same by RST
    When the fault "reset" is injected
    Then the modem says:
      """
      +MQTTBREAK: 1,1
      """
    And client "tool" receives "gone" on "status" with QoS 1

  @sim
  Scenario: deregister ends the call; it cannot be made again until register
    When the host runs:
      """
      AT+CGREG=1
      OK
      """
    And the fault "deregister" is injected
    Then the modem says:
      """
      +CGREG: 0
      +MIPCALL: 0
      +MQTTBREAK: 1,2
      """
    When the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 0
      """
    And the fault "register" is injected
    Then the modem says:
      """
      +CGREG: 1
      """
    When the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      """

  @sim
  Scenario: sim-removed and sim-inserted: +SIM READY when it is back
    When the fault "sim-removed" is injected
    Then the modem says:
      """
      +MIPCALL: 0
      +MQTTBREAK: 1,2
      """
    When the host runs:
      """
      AT+CMEE=1
      OK
      AT+CPIN?
      +CME ERROR: 10
      """
    And the fault "sim-inserted" is injected
    Then the modem says:
      """
      +SIM READY
      """
