# Replays the four AT flows of seed 001 (../shared/seeds/001_ebc5b6bd41dca159.txt), the
# openLuat MQTT application guide. The seed prints each flow on one line; verbatim copies:
#   fixtures/seed-logs/001-a-publish.log
#   fixtures/seed-logs/001-b-receive-and-cache.log
#   fixtures/seed-logs/001-c-passive-close.log
#   fixtures/seed-logs/001-d-pdp-deactivation.log
# Below, each flow is split one line per command or answer; nothing else is changed unless a
# comment says so. The flows log in as "user" / "password", so the broker is given that
# account too.
@seed-001
Feature: Seed 001, MQTT flows: publish, receive, passive close, PDP deactivation

  Background:
    Given a simulated Air780E whose broker also accepts "user" with password "password"

  # Subscribed at QoS 2, so the broker delivers each message at the QoS it was published with.
  @flow-publish @hardware
  Scenario: publish at QoS 0, 1 and 2 with their acknowledgements
    Given an MQTT client "tool" subscribed to "mqtt/pub_topic" at QoS 2
    When the host runs:
      """
      AT+CPIN?
      +CPIN: READY //查询sim卡是否正常
      OK
      AT+CGATT?
      +CGATT: 1 //查询是否附着上数据网络,如果返回+CGATT: 0表示未附着上
      OK
      AT+MCONFIG="866289037465624","user","password"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      AT+MSUB="mqtt/sub_topic",0
      OK
      SUBACK
      AT+MPUB="mqtt/pub_topic",0,0,"publish 0 payload"
      OK
      AT+MPUB="mqtt/pub_topic",1,0,"publish 1 payload"
      OK
      PUBACK
      AT+MPUB="mqtt/pub_topic",2,0,"publish 2 payload"
      OK
      PUBREC
      PUBCOMP
      """
    Then client "tool" receives "publish 0 payload" on "mqtt/pub_topic" with QoS 0
    And client "tool" receives "publish 1 payload" on "mqtt/pub_topic" with QoS 1
    And client "tool" receives "publish 2 payload" on "mqtt/pub_topic" with QoS 2

  # In the seed the module publishes to its own subscription. Three changes, all marked:
  # the seed's comment after the first MPUB swallows the rest of that line, so its `OK` is not
  # printed; the publishes that fill the cache are not shown, so the module makes them the
  # same way; and MQTTMSGGET lines use the quoted form (fixtures/DIVERGENCES.md A1).
  @flow-receive @hardware
  Scenario: receive directly, then through the cache (MQTTMSGSET=1)
    When the host runs:
      """
      AT+MCONFIG="866289037465624","user","password"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      AT+MSUB="mqtt/sub_topic",0
      OK
      SUBACK
      AT+MPUB="mqtt/sub_topic",0,0,"123456" //在mqtt/sub_topic上收到订阅消息,payload为123456
      OK                                    // not shown in the seed (hidden by the comment above)
      //默认是直接输出收到的订阅消息,不做缓存
      +MSUB: "mqtt/sub_topic",6 byte,123456
      //设置订阅消息的处理模式,设置为缓存模式
      //接下来收到订阅消息时,会提示订阅消息的缓存位置
      AT+MQTTMSGSET=1
      OK
      AT+MPUB="mqtt/sub_topic",0,0,"123456" // not shown in the seed: what fills the cache
      OK                                    // not shown in the seed
      //在mqtt/sub_topic上收到一条订阅消息,缓存到位置0
      +MSUB: 0
      //主动读取缓存的所有订阅消息
      AT+MQTTMSGGET
      +MSUB: "mqtt/sub_topic",6 byte,123456 // seed: +MSUB:mqtt/sub_topic,6 byte,123456 (fixtures/DIVERGENCES.md A1)
      OK
      AT+MPUB="mqtt/sub_topic",0,0,"123456" // not shown in the seed
      OK                                    // not shown in the seed
      //在mqtt/sub_topic上收到一条订阅消息,缓存到位置0
      +MSUB: 0
      AT+MPUB="mqtt/sub_topic",0,0,"123456" // not shown in the seed
      OK                                    // not shown in the seed
      //在mqtt/sub_topic上收到一条订阅消息,缓存到位置1
      +MSUB: 1
      //主动读取缓存的所有订阅消息
      AT+MQTTMSGGET
      +MSUB: "mqtt/sub_topic",6 byte,123456 // seed: +MSUB:mqtt/sub_topic,6 byte,123456 (fixtures/DIVERGENCES.md A1)
      +MSUB: "mqtt/sub_topic",6 byte,123456 // seed: +MSUB:mqtt/sub_topic,6 byte,123456 (fixtures/DIVERGENCES.md A1)
      OK
      """

  # "此处TCP连接被动断开": the server closes the link; we make the broker drop the client.
  @flow-passive-close @sim
  Scenario: the server closes the connection, MIPCLOSE fails, the flow reconnects
    When the host runs:
      """
      AT+MCONFIG="866289037465624","user","password"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """
    And the broker drops the modem's connection
    Then the modem says:
      """
      CLOSED //此处TCP连接被动断开
      """
    When the host runs:
      """
      AT+MIPCLOSE
      +CME ERROR: 767 //此处无论返回OK、ERROR还是CME ERROR,都直接跳过,不用做正确性判断
      AT+MCONFIG="866289037465624","user","password"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """

  @flow-pdp-deactivation @sim
  Scenario: the network deactivates the PDP context, MIPCLOSE succeeds, the flow reconnects
    When the host runs:
      """
      AT+MCONFIG="866289037465624","user","password"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """
    And the network deactivates the PDP context
    Then the modem says:
      """
      +CGEV: NW PDN DEACT 1 //此处PDP被动去激活
      """
    When the host runs:
      """
      AT+MIPCLOSE
      OK //此处无论返回OK、ERROR还是CME ERROR,都直接跳过,不用做正确性判断
      AT+MCONFIG="866289037465624","user","password"
      OK
      AT+MIPSTART="lbsmqtt.airm2m.com","1884"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """
