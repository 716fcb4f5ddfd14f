# Replays the logs of seed 000 (../shared/seeds/000_9b6cf5a5b5e7ba55.txt), the openLuat
# Air780E MQTT guide for firmware V1169. Verbatim copies of the blocks:
#   fixtures/seed-logs/000-6.2-plain.log   (section 6.2)
#   fixtures/seed-logs/000-7-apn.log       (section 7)
# The doc strings below are those blocks, cut where something has to happen off the UART
# (a broker-side client publishing). `//` comments are the guide's own and are ignored.
@seed-000
Feature: Seed 000, the Air780E MQTT guide

  # Section 6.2: the module publishes "data from 4G module" to mqtt/sub, where the PC tool
  # (mqttx in the guide) listens, and receives "data from tcp server" the tool publishes to
  # mqtt/pub. Run against the embedded broker and against a real Mosquitto.
  # Three of the guide's comments lose their angle brackets (<stat>, <state>,
  # <svraddr>,<port>): in a Scenario Outline, Gherkin would take them for placeholders.
  @section-6.2 @hardware
  Scenario Outline: plain MQTT without certificates, both directions (<broker>)
    Given <modem>
    And an MQTT client "mqttx" subscribed to "mqtt/sub"
    When the host runs:
      """
      ATI                     //查询版本号

      AirM2M_780E_V1169_LTE_AT

      OK

      AT+CGREG?               //查询当前GPRS注册状态

      +CGREG: 0,1             //stat=1，标识已经注册GPRS网络，而且是本地网

      OK

      AT+CGATT?               //查看当前GPRS附着状态

      +CGATT: 1               //state=1，标明当前GPRS已经附着

      OK

      AT+MCONFIG=868488076771714,root,luat123456              //填写clientid、用户名、密码；可以带引号可以不带

      OK

      AT+MIPSTART="airtest.openluat.com","1883"               //填写mqtt服务器的域名和端口号；注意，如果是无证书ssl加密连接时，指令格式需要换成 AT+SSLMIPSTART=svraddr,port

      OK

      CONNECT OK

      AT+MCONNECT=1,60                //建立mqtt会话；注意需要返回CONNECT OK后才能发此条指令，并且要立即发，否则就会被服务器踢掉

      OK

      CONNACK OK                  //连接成功，成功后才能发布消息或者订阅消息

      AT+MSUB="mqtt/pub",0        //订阅主题

      OK

      SUBACK

      AT+MPUB="mqtt/sub",0,0,"data from 4G module"        //发布主题

      OK
      """
    Then client "mqttx" receives "data from 4G module" on "mqtt/sub"
    When client "mqttx" publishes "data from tcp server" to "mqtt/pub"
    Then the modem says:
      """
      +MSUB: "mqtt/pub",20 byte,data from tcp server          //收到服务器下发的消息，+MSUB的URC上报
      """
    When the host runs:
      """
      AT+MDISCONNECT              //模块需要先关闭mqtt连接

      OK

      AT+MIPCLOSE                 //关闭tcp连接

      OK
      """

    Examples:
      | broker          | modem                                 |
      | embedded broker | a simulated Air780E                   |

    @mosquitto
    Examples:
      | broker          | modem                                 |
      | Mosquitto       | a simulated Air780E using Mosquitto   |

  # Section 7 lists only the commands ("设置apn指令流程"); the first line of the block is a
  # caption, not module output, and is left out. The answers are the module's usual ones:
  # `+CPIN: READY` (seed 001), `OK` for CPNETAPN (fixtures/air780e-manual-notes.md section 12),
  # `+CGATT: 1` (the guide's comment: 1 means attached).
  @section-7 @hardware
  Scenario: APN for a private-network SIM
    Given a simulated Air780E
    When the host runs:
      """
      AT+CPIN?                                        //检查卡是否正常
      +CPIN: READY
      OK
      AT+CPNETAPN=2,jscmiot,u9682,iot98765,2         //举例，根据实际填写，不能照抄
      OK
      AT+CGATT?                                      //查询是否附着上数据网络，如果返回+CGATT: 0表示未附着上,1表示正常
      +CGATT: 1
      OK
      """
