# One scenario per fault of `modem-sim inject` (README "Fault injection"): what the module says,
# the status commands and the later commands that fail, and what the broker sees. Sources:
# seed 001 (passive close then `+CME ERROR: 767`; `+CGEV: NW PDN DEACT 1` then `MIPCLOSE` OK;
# the recovery sequence), seed 003 (a server kicking links without CONNECT), seed 000 FAQ 3 and
# seed 002 FAQ 4.4 (drops from coverage and registration). Choices beyond the seeds:
# fixtures/DIVERGENCES.md (rows F1-F4).
@faults
Feature: Injected faults and all of their consequences

  Background:
    Given a simulated Air780E
    And an MQTT client "tool" subscribed to "will/dev" at QoS 1
    And client "tool" subscribes to "up/dev" at QoS 1

  @sim
  Scenario: closed: CLOSED, MQTTSTATU 0, MIPCLOSE and MCONNECT give 767, the will fires, recovery works
    When the host runs:
      """
      AT+MCONFIG="dev",root,luat123456,1,0,"will/dev","gone"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      AT+MCONNECT=1,60
      +CME ERROR: 767
      """
    And the fault "closed" is injected
    Then the modem says:
      """
      CLOSED
      """
    And client "tool" receives "gone" on "will/dev" with QoS 1
    When the host runs:
      """
      AT+MQTTSTATU
      +MQTTSTATU :0
      OK
      AT+MCONNECT=0,300
      +CME ERROR: 767
      AT+MIPCLOSE
      +CME ERROR: 767
      AT+MCONFIG="dev",root,luat123456
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      AT+MPUB="up/dev",1,0,"back"
      OK
      PUBACK
      """
    Then client "tool" receives "back" on "up/dev" with QoS 1

  @sim
  Scenario: reset: the same on the UART, by RST
    When the host runs:
      """
      AT+MCONFIG="dev",root,luat123456,1,0,"will/dev","gone"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """
    And the fault "reset" is injected
    Then the modem says:
      """
      CLOSED
      """
    And client "tool" receives "gone" on "will/dev" with QoS 1
    When the host runs:
      """
      AT+MIPCLOSE
      +CME ERROR: 767
      """

  @sim
  Scenario: pdn-deact with the context away for an hour: connects fail meanwhile
    When the host runs:
      """
      AT+MCONFIG="dev",root,luat123456
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """
    And the fault "pdn-deact 3600" is injected
    Then the modem says:
      """
      +CGEV: NW PDN DEACT 1
      """
    When the host runs:
      """
      AT+MQTTSTATU
      +MQTTSTATU :0
      OK
      AT+MIPCLOSE
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      STATE: IP INITIAL
      CONNECT FAIL
      AT+CSTT
      OK
      AT+CIICR
      +CME ERROR: 30
      """

  @sim
  Scenario: deregister and register, with the registration URCs on
    When the host runs:
      """
      AT+CGREG=1
      OK
      AT+CEREG=1
      OK
      AT+MCONFIG="dev",root,luat123456
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """
    And the fault "deregister" is injected
    Then the modem says:
      """
      +CGREG: 0
      +CEREG: 0
      +CGEV: NW PDN DEACT 1
      """
    When the host runs:
      """
      AT+CGATT?
      +CGATT: 0
      OK
      AT+CEREG?
      +CEREG: 1,0
      OK
      AT+MIPCLOSE
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      STATE: IP INITIAL
      CONNECT FAIL
      """
    And the fault "register" is injected
    Then the modem says:
      """
      +CGREG: 1
      +CEREG: 1
      """
    When the host runs:
      """
      AT+CGATT?
      +CGATT: 1
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """

  @sim
  Scenario: sim-removed and sim-inserted
    Given the fault "sim-removed" is injected
    # The SIM guide's hot removal (luatos-doc-pool public/20240906_any_sim.md); the default
    # bearer goes with the registration (fixtures/DIVERGENCES.md F3).
    Then the modem says:
      """
      ^MODE: 0,0
      +NO Service
      +CGEV: NW PDN DEACT 1
      +CGEV: ME DETACH
      +CPIN: SIM REMOVED 0
      """
    When the host runs:
      """
      AT+CPIN?
      +CME ERROR: 10
      AT+CGATT?
      +CGATT: 0
      OK
      """
    And the fault "sim-inserted" is injected
    Then the modem says:
      """
      ^MODE: 17,17
      +E_UTRAN Service
      +CGEV: ME PDN ACT 1,0
      """
    And the modem says a line starting with "+NITZ: "
    And the modem says "+CPIN: READY 0"
    When the host runs:
      """
      AT+CPIN?
      +CPIN: READY
      OK
      AT+CGATT?
      +CGATT: 1
      OK
      """

  @sim
  Scenario: signal N sets what AT+CSQ reports
    Given the fault "signal 4" is injected
    When the host runs:
      """
      AT+CSQ
      +CSQ: 4,0
      OK
      """

  @sim
  Scenario: kick-idle: a link without CONNECT is closed, then MCONNECT gives 767
    Given the fault "kick-idle 0.3" is injected
    When the host runs:
      """
      AT+MCONFIG="dev",root,luat123456
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
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

  @sim
  Scenario: a trigger: closed on the second PUBLISH, which still reaches the broker
    When the host runs:
      """
      AT+MCONFIG="dev",root,luat123456,1,0,"will/dev","gone"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """
    And the fault "closed on publish 2" is injected
    When the host runs:
      """
      AT+MPUB="up/dev",0,0,"first"
      OK
      AT+MPUB="up/dev",0,0,"second"
      OK
      CLOSED
      """
    Then client "tool" receives "first" on "up/dev"
    And client "tool" receives "second" on "up/dev"
    And client "tool" receives "gone" on "will/dev" with QoS 1

  @sim
  Scenario: urc-in-response: the next URC comes between the echo and the answer
    When the host runs:
      """
      AT+MCONFIG="dev",root,luat123456
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      """
    And the fault "urc-in-response" is injected
    And the fault "closed" is injected
    When the host runs:
      """
      AT+CSQ
      CLOSED
      +CSQ: 29,0
      OK
      """
