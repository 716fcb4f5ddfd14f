# Issue 11: the module's whole life and the commands real drivers send, on the Air780E family.
# Each answer cites the vendor page or capture it follows (luatos-doc-pool is the repository
# openLuat/luatos-doc-pool; MAN its doc/AT开发资料/AT_Command_Manual/docs/Command_List/).
@life
Feature: Power-on, reset, radio, registration, bearer and identity of the Air780E family

  @sim
  Scenario: starting the simulator is a power-on: the lines wait for the host
    # Seed 000 section 6.3 (V1169) from ^MODE on; RDY first as the family prints it.
    Given the module is an "air780e" whose clock reads "2024/08/23,06:52:50"
    And a simulated Air780E just powered on
    Then the modem says:
      """
      RDY
      ^MODE: 17,17
      +E_UTRAN Service
      +CGEV: ME PDN ACT 1,0
      +NITZ: 2024/08/23,06:52:50+0,0
      """
    When the host runs:
      """
      AT
      OK
      """

  @sim
  Scenario: AT+RESET answers OK first, then boots; the session before it is gone and its will fires
    Given a simulated Air780E
    And an MQTT client "tool" subscribed to "will/dev" at QoS 1
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
      AT+RESET
      OK
      RDY
      ^MODE: 17,17
      +E_UTRAN Service
      +CGEV: ME PDN ACT 1,0
      """
    Then the modem says a line starting with "+NITZ: "
    And client "tool" receives "gone" on "will/dev" with QoS 1
    When the host runs:
      """
      AT+MQTTSTATU
      +MQTTSTATU :0
      OK
      """

  @sim
  Scenario: power-cycle keeps only what AT&W saved
    Given a simulated Air780E
    When the host runs:
      """
      AT+CEREG=1
      OK
      AT&W
      OK
      AT+CGREG=1
      OK
      """
    And the fault "power-cycle" is injected
    Then the modem says:
      """
      RDY
      ^MODE: 17,17
      +E_UTRAN Service
      +CGEV: ME PDN ACT 1,0
      """
    And the modem says a line starting with "+NITZ: "
    And the modem says "+CEREG: 1"
    When the host runs:
      """
      AT+CEREG?
      +CEREG: 1,1
      OK
      AT+CGREG?
      +CGREG: 0,1
      OK
      ATZ
      OK
      AT&F
      OK
      AT+CEREG?
      +CEREG: 0,1
      OK
      """

  @sim
  Scenario: AT+CFUN=0 then AT+MIPSTART fails as the manual says; AT+CFUN=1 and the session works again
    # MAN Device_control/CFUN.md; MAN MQTT/MIPSTART.md: STATE:<state> before CONNECT FAIL.
    Given a simulated Air780E
    And an MQTT client "tool" subscribed to "up/dev" at QoS 0
    When the host runs:
      """
      AT+CFUN=?
      +CFUN: (0,1,4),(0,1)
      OK
      AT+CFUN=0
      OK
      +CGEV: ME DETACH
      AT+CFUN?
      +CFUN: 0
      OK
      AT+CEREG?
      +CEREG: 0,0
      OK
      AT+MCONFIG="dev",root,luat123456
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      STATE: IP INITIAL
      CONNECT FAIL
      AT+CFUN=1
      OK
      ^MODE: 17,17
      +E_UTRAN Service
      +CGEV: ME PDN ACT 1,0
      """
    Then the modem says a line starting with "+NITZ: "
    When the host runs:
      """
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      AT+MPUB="up/dev",0,0,"radio back"
      OK
      """
    Then client "tool" receives "radio back" on "up/dev"

  @hardware
  Scenario: identity and housekeeping as the manual pages print them
    # MAN Base/CGMI.md, CGMM.md, CGMR.md, ATI.md, CIMI.md, ICCID.md; Device_control/CBC.md,
    # CSCLK.md, CSDT.md; Network_service/CSQ.md (the family's <ber> 0), CESQ (NETG capture).
    Given a simulated Air780E
    When the host runs:
      """
      AT+CGMI
      +CGMI: "AirM2M"
      OK
      AT+CGMM
      +CGMM: "Air780E"
      OK
      AT+CGMR
      +CGMR: "AirM2M_780E_V1169_LTE_AT"
      OK
      ATI
      AirM2M_780E_V1169_LTE_AT
      OK
      AT+CIMI
      460046616008063
      OK
      AT+ICCID
      +ICCID: 89860117831003134201
      OK
      AT+CCID
      89860117831003134201
      OK
      AT+CBC
      +CBC: 3800
      OK
      AT+CSCLK=2
      OK
      AT+CSCLK?
      +CSCLK: 2
      OK
      AT+CSCLK=0
      OK
      AT+WAKETIM?
      +WAKETIM:1
      OK
      AT+CSDT=1
      OK
      AT+CSDT?
      +CSDT: 1,1
      OK
      AT+CSQ
      +CSQ: 29,0
      OK
      AT+CESQ
      +CESQ: 99,99,255,255,22,48
      OK
      AT+CCLK="24/08/23,06:52:50+00"
      OK
      """
    And the host sends "AT+CCLK?"
    Then the modem says a line starting with "+CCLK: "24/08/23,06:5"
    And the modem says "OK"

  @sim
  Scenario: --model air780ep --firmware V1007 prints its own strings
    # MAN Base/ATI.md and CGMR.md: AirM2M_780EP_V1007_LTE_AT; CGMM.md: "Air780EP".
    Given the module is an "air780ep" with firmware "V1007"
    And a simulated Air780E
    When the host runs:
      """
      ATI
      AirM2M_780EP_V1007_LTE_AT
      OK
      AT+CGMR
      +CGMR: "AirM2M_780EP_V1007_LTE_AT"
      OK
      AT+CGMM
      +CGMM: "Air780EP"
      OK
      AT+CGDCONT?
      +CGDCONT: 1,"IP","CMIOT","10.104.48.68"
      OK
      """

  @hardware
  Scenario: registration with the cell, and the operator
    # MAN Network_service/CREG.md, CEREG.md, GPRS/CGREG.md, Network_service/COPS.md.
    Given a simulated Air780E
    When the host runs:
      """
      AT+CREG=?
      +CREG: (0,1,2,3)
      OK
      AT+CREG?
      +CREG: 0,1
      OK
      AT+CREG=2
      OK
      AT+CREG?
      +CREG: 2,1,"1863","0183db22",7
      OK
      AT+CGREG=2
      OK
      AT+CGREG?
      +CGREG: 2,1,"1863","0183db22",7
      OK
      AT+CEREG=2
      OK
      AT+CEREG?
      +CEREG: 2,1,"1863","0183db22",7
      OK
      AT+CREG=0
      OK
      AT+CGREG=0
      OK
      AT+CEREG=0
      OK
      AT+COPS?
      +COPS: 0,2,"46000",7
      OK
      AT+COPS=3,0
      OK
      AT+COPS?
      +COPS: 0,0,"CHINA MOBILE",7
      OK
      AT+COPS=?
      +COPS: (2,"CHINA MOBILE","CMCC","46000",7),,(0,1,2,3,4),(0,1,2)
      OK
      """

  @sim
  Scenario: registration URCs with n = 2 carry the cell
    Given a simulated Air780E
    When the host runs:
      """
      AT+CREG=2
      OK
      """
    And the fault "deregister" is injected
    Then the modem says:
      """
      +CREG: 0
      +CGEV: NW PDN DEACT 1
      """
    When the fault "register" is injected
    Then the modem says "+CREG: 1,"1863","0183db22",7"

  @hardware
  Scenario: the PDP context: CGDCONT, CGACT, CGPADDR
    # MAN GPRS/CGDCONT.md, CGACT.md, CGPADDR.md.
    Given a simulated Air780E
    When the host runs:
      """
      AT+CGDCONT?
      +CGDCONT: 1,"IP","CMIOT","10.104.48.68",0,0
      OK
      AT+CGDCONT=?
      +CGDCONT: (1-15),"IP",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)
      +CGDCONT: (1-15),"IPV6",,,,,(0),(0,2),(0),(0),(0,1),(0),(0),(0)
      +CGDCONT: (1-15),"IPV4V6",,,,,(0),(0,2),(0),(0),(0,1),(0),(0,1),(0)
      +CGDCONT: (1-15),"Non-IP",,,,,(0),(0,2),(0),(0),(0,1),(0),(0),(0),(0,1)
      OK
      AT+CGDCONT=2,"IP","cmnet"
      OK
      AT+CGACT?
      +CGACT: 1,1
      +CGACT: 2,0
      OK
      AT+CGACT=?
      +CGACT: (0,1)
      OK
      AT+CGPADDR=1
      +CGPADDR: 1,"10.104.48.68"
      OK
      AT+CGPADDR=?
      +CGPADDR: (1,2)
      OK
      AT+CGDCONT=2
      OK
      """

  @hardware
  Scenario: the bearer state machine as the manual and the TCP guide print it
    # MAN TCPIP/CSTT.md, CIPSTATUS.md, CIPMUX.md, 状态机.md, 使用方法举例.md;
    # public/780EP_AT_TCP应用指南.md section 3 (CSTT twice: +CME ERROR: 3).
    Given a simulated Air780E
    When the host runs:
      """
      AT+CIPSTATUS
      OK
      STATE: IP INITIAL
      AT+CIPMUX=0
      OK
      AT+CIPMUX?
      +CIPMUX: 0
      OK
      AT+CIPQSEND=1
      OK
      AT+CIICR
      +CME ERROR: 3
      AT+CSTT
      OK
      AT+CSTT
      +CME ERROR: 3
      AT+CIPSTATUS
      OK
      STATE: IP START
      AT+CIICR
      OK
      AT+CIFSR
      10.104.48.68
      AT+CIPSTATUS
      OK
      STATE: IP STATUS
      AT+CIPSHUT
      SHUT OK
      AT+CIFSR
      ERROR
      AT+CIPSTATUS
      OK
      STATE: IP INITIAL
      """

  @hardware
  Scenario: the MQTT commands' test forms as the manual pages print them
    # MAN MQTT/*.md.
    Given a simulated Air780E
    When the host runs:
      """
      AT+MCONFIG=?
      +MCONFIG:<clientid>[,<username>,<password>[,(0-2),(0,1),<will_topic>,<will_message>]]
      OK
      AT+MIPSTART=?
      +MIPSTART:"(0,255).(0,255).(0,255).(0,255)",(1-65535)
      +MIPSTART:"DOMAIN NAME",(1-65535)
      OK
      AT+MCONNECT=?
      +MCONNECT:(0-1),(1-65535)
      OK
      AT+MSUB=?
      +MSUB:<topic>,(0-2)
      OK
      AT+MUNSUB=?
      +MUNSUB:<topic>
      OK
      AT+MPUB=?
      +MPUB:<topic>,(0-2),(0-1),<message>
      OK
      AT+MQTTMSGSET=?
      +MQTTMSGSET:(0,1)
      OK
      AT+MQTTMSGGET=?
      OK
      AT+MQTTSTATU=?
      OK
      AT+MQTTMODE=?
      +MQTTMODE: (0,1)
      OK
      """

  @sim
  Scenario: the SIM guide's hot-plug on the Air780EP V1007 prints only the +CPIN lines
    # luatos-doc-pool doc/AT开发资料/780EP/780EP_AT_SIM应用指南.md (V1007), AT+CSDT=1 first.
    Given the module is an "air780ep" with firmware "V1007"
    And a simulated Air780E
    When the host runs:
      """
      AT+CSDT=1
      OK
      """
    And the fault "sim-removed" is injected
    Then the modem says "+CPIN: SIM REMOVED 0"
    When the host runs:
      """
      AT+CPIN?
      +CME ERROR: 10
      """
    And the fault "sim-inserted" is injected
    Then the modem says "+CPIN: READY 0"
