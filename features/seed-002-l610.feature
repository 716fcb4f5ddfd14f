# Replays the test log of seed 002 (../shared/seeds/002_4143183515b497ac.txt), the Fibocom
# L610 standard-MQTT application guide, section 3.3 (测试 LOG). Verbatim copy of the block:
#   fixtures/seed-logs/002-3.3-test-log.log
# The doc strings below are that log, cut where something has to happen off the UART (a
# broker-side client publishing or checking) or where the host sends prompted data; `//`
# comments are the guide's own and are ignored. Our own notes are `#` comments. A line the
# module echoes right after the host typed it (`AT` / `AT //回显`) is its echo, not a second
# command (harness/src/exchange.rs).
#
# The log logs in as "g510/test1"; the broker gets that account. The certificate part
# (GTSSL*, MQTTOPEN to 8883) has its own scenario against a mutual-TLS broker.
@seed-002
Feature: Seed 002, the Fibocom L610 standard MQTT guide

  @section-3.3 @hardware
  Scenario Outline: the plain part of the test log, watched from the broker (<broker>)
    Given <modem> whose broker also accepts "g510/test1" with password "LeKH43ojswwzINS15EGImf5JluPkCv9cPnu1DQUxGOk="
    And an MQTT client "tool" subscribed to "test1"
    # The log's first `AT` and its echo went out while the module was still booting, before
    # its UART was up; nothing answered them. The simulator is powered on before the tty exists,
    # so the boot URCs are already waiting there when the host opens it.
    Then the modem says:
      """
      AT command ready                       //开机主动上报，表示可用，时间不固定，可用 AT+MSTART 设置关闭

      +SIM READY                             //开机后识别到 SIM 卡的主动上报，时间不固定，可用 AT+MSTART 设置关闭
      """
    # `AT+CIMI?` and `AT+CSQ?` are sent in their read form, as in the log; 27.007 has the
    # execution forms, which answer the same (fixtures/DIVERGENCES.md).
    When the host runs:
      """
      AT
      AT                                     //回显。可用 ATE0 关闭，为了方便阅读，后续的回显不显示。
      OK
      ATE0                                   //关回显
      ATE0
      OK
      AT+GTRAT=6,3,2                         //搜网顺序 LTE 优先
      OK
      AT+CFUN=1                             //设置工作模式是正常工作模式
      OK
      AT+CPIN?                              //确认 SIM 卡是否被识别。
      +CPIN: READY                          // READY 表示 SIM 卡被识别。如果 ERROR 可能是没识别或者需要 PIN 码

      OK
      AT+CIMI?                              //查询 IMSI
      +CIMI: 460046616008063

      OK
      AT+CGDCONT=1,"IP","cmnet"             //建议先设置 APN
      OK
      AT+CSQ?                               //确认当前信号强度。
      +CSQ: 25,99                           //25 所在的位置是信号强度的参考值

      OK

      AT+COPS? //查询运营商信息

      +COPS: 0,0,"CHINA MOBILE",7 //7 表示 4G

      OK

      AT+CGREG? //查询 PS 域是否注册。如果 4G 建议再查一下 AT+CEREG?

      +CGREG: 0,1 //1 或 5 可用

      OK

      AT+CEREG? //查询 LTE 是否注册

      +CEREG: 0,1 //1 或 5 可用

      OK

      AT+CREG? //查询 CS 域是否注册，不做 CS 域相关业务可不查

      +CREG: 0,1 //是 1 或者 5。只要其中 1 条回 1 或者 5 即可。

      OK

      AT+MIPCALL?

      +MIPCALL: 0

      OK

      AT+MIPCALL=1 //在用 AT+CGDCONT 设置 APN 后，和网络激活 PDP 请求 IP

      OK //因为受网络环境影响，OK 表示执行，不表示执行结束。

      +MIPCALL: 10.104.48.68 //必须等收到+MIPCALL 或者 ERROR 或者超时再下面操作。
      """
    # The log prints `+MIPCALL: 1,104.48.68`: the address from the line above with its first
    # octet lost (and a comment saying 0 means "has an IP", which the first query contradicts).
    # The simulator prints the whole address (fixtures/DIVERGENCES.md).
    When the host runs:
      """
      AT+MIPCALL? //查询 IP 是否已经获取到

      +MIPCALL: 1,10.104.48.68

      OK

      //以下为通过账号密码验证的连接方式：

      AT+MQTTUSER=1,"g510/test1","LeKH43ojswwzINS15EGImf5JluPkCv9cPnu1DQUxGOk="

      OK //设置 MQTT 鉴权信息，参数依次为用户名和密码，以使用的平台规定为准

      AT+MQTTWILL=1,"test1",0,0,"disconnect unexpectedly"

      OK //设置 MQTT 遗嘱消息，参数依次为 Client_id、主题名和 QoS 等级、保留标志
      //和消息内容
      """
    # The log misspells the command `AT+MQTTOOPEN` (and its URC `+MQTTOOPEN: 1,1`). That is not
    # a command: the module answers ERROR, and so does the simulator. Then the real command.
    When the host runs:
      """
      AT+MQTTOOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      ERROR
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60

      OK //建立 MQTT 连接，参数依次为 Client_id、远程 IP 地址（域名）、远程端口、会话

      //清理标志和保持连接数值

      +MQTTOPEN: 1,1 //建立 MQTT 连接成功，必须等待此返回再做之后的业务

      AT+MQTTSUB=1,"test1",0 //订阅主题，参数依次为 Client_id、主题名和 QoS 等级（0-2，部分
      OK //平台不支持 QoS 等级 2）

      +MQTTSUB: 1,1 //订阅成功

      AT+MQTTPUB=1,"test1",0,0,"123" //发布消息到对应主题，参数依次为 Client_id、主题名、QoS

      OK //等级（0-2，部分平台不支持 QoS 等级 2）、保留标志和消息

      //内容

      +MQTTPUB: 1,1 //发布成功

      +MQTTMSG: 1, 0, test1, 123 //收到已订阅主题的消息，参数依次为 Client_id、QoS 等级、主
      //题名和消息内容
      """
    Then client "tool" receives "123" on "test1"
    # The log does not show the 5 bytes typed after `>`; the message that comes back, `"123"`,
    # is 5 bytes, so those are they.
    When the host runs:
      """
      AT+MQTTPUB=1,"test1",0,0,5 //发布消息到对应主题（ODM），参数依次为 Client_id、主题名、
      > //QoS 等级（0-2，部分平台不支持 QoS 等级 2）、保留标志和消
      //息数据长度。收到">"后输入数据
      """
    And the host sends the data "\"123\""
    Then the modem says:
      """
      OK

      +MQTTPUB: 1,1 //发布成功

      +MQTTMSG: 1, 0, test1, "123" //收到已订阅主题的消息，参数依次为 Client_id、QoS 等级、主
      //题名和消息内容
      """
    And client "tool" receives "\"123\"" on "test1"
    # Not in the log: a message from outside arrives the same way.
    When client "tool" publishes "from the broker side" to "test1"
    Then the modem says:
      """
      +MQTTMSG: 1, 0, test1, from the broker side
      """
    When the host runs:
      """
      AT+MQTTUNSUB=1,"test1" //取消订阅主题，参数依次为 Client_id 和主题名

      OK

      +MQTTUNSUB: 1,1 //取消订阅成功
      """
    # Not in the log: after the unsubscribe nothing on test1 arrives. A marker topic the modem
    # still has, published after it by the same client, must come first.
    When the host runs:
      """
      AT+MQTTSUB=1,"marker",0
      OK
      +MQTTSUB: 1,1
      """
    And client "tool" publishes "after unsubscribe" to "test1"
    And client "tool" publishes "m" to "marker"
    Then the modem says:
      """
      +MQTTMSG: 1, 0, marker, m
      """
    When the host runs:
      """
      AT+MQTTCLOSE=1 //关闭 MQTT 连接

      OK

      +MQTTCLOSE: 1,1 //关闭 MQTT 连接成功
      """
    # From the end of the log (after its certificate part).
    When the host runs:
      """
      AT+MIPCALL=0 //释放 IP

      OK

      +MIPCALL: 0
      """

    Examples:
      | broker          | modem                                            |
      | embedded broker | a simulated L610 just powered on                 |

    @mosquitto
    Examples:
      | broker    | modem                                            |
      | Mosquitto | a simulated L610 using Mosquitto just powered on |

  # The certificate part of the log, against a broker whose TLS listener requires client
  # certificates. Substitutions: the committed test PKI (certs/) stands in for the guide's
  # Baidu certificates, loaded at their real lengths (the log loads 1220, 1679 and 1758 bytes);
  # in the guide's naming CAFILE is the client certificate, KEYFILE its key, TRUSTFILE the
  # root CA. The session's data call and account come first, as in the log's plain part.
  @section-3.3 @tls @sim
  Scenario Outline: the certificate part of the test log, against a mutual-TLS broker (<broker>)
    Given the broker's TLS listener requires client certificates
    And <modem> whose broker also accepts "g510/test1" with password "LeKH43ojswwzINS15EGImf5JluPkCv9cPnu1DQUxGOk="
    And an MQTT client "tool" subscribed to "test1"
    When the host runs:
      """
      ATE0
      OK
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"g510/test1","LeKH43ojswwzINS15EGImf5JluPkCv9cPnu1DQUxGOk="
      OK
      //以下为通过证书验证的连接方式:

      AT+GTSSLVER? //查询 TLS 版本
      +GTSSLVER: 2 //TLS 版本: 1=SSL3.0; 2=TLS1.0; 3=TLS1.1; 4=TLS1.2

      OK

      AT+GTSSLVER=4 //设置 TLS1.2 版本(不同云平台支持的 TLS 版本可能不一样,具体请咨询
      //相关的云平台)

      OK

      AT+GTSSLVER? //确认 TLS 版本
      +GTSSLVER: 4

      OK
      """
    When the host loads "CAFILE" from certs/client.crt with AT+GTSSLFILE
    And the host loads "KEYFILE" from certs/client.key with AT+GTSSLFILE
    And the host loads "TRUSTFILE" from certs/ca.crt with AT+GTSSLFILE
    # The misprint again (fixtures/DIVERGENCES.md L1), then the real command: port 8883 with no
    # flag is TLS.
    When the host runs:
      """
      AT+MQTTOOPEN=1,"g510.mqtt.iot.bj.baidubce.com",8883,0,60
      ERROR
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",8883,0,60

      OK //建立 MQTT 连接, 参数依次为 Client_id、远程 IP 地址(域名)、远程端口、会话

      //清理标志和保持连接数值

      +MQTTOPEN: 1,1 //建立 MQTT 连接成功, 必须等待此返回再做之后的业务

      AT+MQTTSUB=1,"test1",0 //订阅主题, 参数依次为 Client_id、主题名和 QoS 等级(0-2, 部分

      OK //平台不支持 QoS 等级 2)

      +MQTTSUB: 1,1 //订阅成功

      AT+MQTTPUB=1,"test1",0,0,"123" //发布消息到对应主题，参数依次为 Client_id、主题名、QoS
      OK //等级（0-2，部分平台不支持 QoS 等级 2）、保留标志和消息
      //内容

      +MQTTPUB: 1,1 //发布成功

      +MQTTMSG: 1, 0, test1, 123 //收到已订阅主题的消息，参数依次为 Client_id、QoS 等级、主
      //题名和消息内容
      """
    Then client "tool" receives "123" on "test1"
    When the host runs:
      """
      AT+MQTTPUB=1,"test1",0,0,5 //发布消息到对应主题（ODM），参数依次为 Client_id、主题名、
      > //QoS 等级（0-2，部分平台不支持 QoS 等级 2）、保留标志和消
      //息数据长度。收到">"后输入数据
      """
    And the host sends the data "\"123\""
    Then the modem says:
      """
      OK

      +MQTTPUB: 1,1 //发布成功

      +MQTTMSG: 1, 0, test1, "123" //收到已订阅主题的消息，参数依次为 Client_id、QoS 等级、主
      //题名和消息内容
      """
    And client "tool" receives "\"123\"" on "test1"
    When the host runs:
      """
      AT+MQTTUNSUB=1,"test1" //取消订阅主题，参数依次为 Client_id 和主题名

      OK

      +MQTTUNSUB: 1,1 //取消订阅成功

      AT+MQTTCLOSE=1 //关闭 MQTT 连接

      OK

      +MQTTCLOSE: 1,1 //关闭 MQTT 连接成功

      AT+GTSSLERR?
      +GTSSLERR: 0
      OK
      AT+MIPCALL=0 //释放 IP

      OK

      +MIPCALL: 0
      """

    Examples:
      | broker          | modem                               |
      | embedded broker | a simulated L610                    |

    @mosquitto
    Examples:
      | broker          | modem                               |
      | Mosquitto       | a simulated L610 using Mosquitto    |

  # Not in the log: GTSSLMODE=1 with a root CA that did not sign the server's certificate. The
  # handshake fails, the open reports 0, and GTSSLERR? says the server certificate was the
  # reason (our codes: fixtures/DIVERGENCES.md). With the right root CA loaded the same open
  # succeeds.
  @negative @tls @sim
  Scenario: an untrusted server with GTSSLMODE=1 fails with GTSSLERR 1, the right root CA connects
    Given the broker's TLS listener requires client certificates
    And a simulated L610
    When the host runs:
      """
      ATE0
      OK
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"root","luat123456"
      OK
      AT+GTSSLVER=4
      OK
      AT+GTSSLMODE=1
      OK
      """
    When the host loads "CAFILE" from certs/client.crt with AT+GTSSLFILE
    And the host loads "KEYFILE" from certs/client.key with AT+GTSSLFILE
    And the host loads "TRUSTFILE" from an unrelated CA with AT+GTSSLFILE
    When the host runs:
      """
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",8883,0,60
      OK
      +MQTTOPEN: 1,0
      AT+GTSSLERR?
      +GTSSLERR: 1
      OK
      AT+GTSSLMODE=0
      OK
      """
    When the host loads "TRUSTFILE" from certs/ca.crt with AT+GTSSLFILE
    When the host runs:
      """
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",8883,0,60
      OK
      +MQTTOPEN: 1,1
      AT+MQTTCLOSE=1
      OK
      +MQTTCLOSE: 1,1
      """

  # Section 3.2: the data call comes first ("先...用 AT+MIPCALL 向网络请求 IP，再用 MQTT 相关的命令").
  # A module answers the precondition failure with ERROR (FAQ 4.1: the reason only with CMEE).
  @negative @hardware
  Scenario: MQTTOPEN before MIPCALL is refused, with the reason when asked
    Given a simulated L610
    When the host runs:
      """
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      ERROR
      AT+CMEE=1
      OK
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      +CME ERROR: 3
      AT+CMEE=2
      OK
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      +CME ERROR: operation not allowed
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"root","luat123456"
      OK
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      OK
      +MQTTOPEN: 1,1
      """

  # The reason code is the broker's CONNACK code mapped to 700..704: our broker answers a bad
  # password with 4 (bad user name or password, 703), Mosquitto with 5 (not authorized, 704).
  @negative @sim
  Scenario Outline: a wrong password gives +MQTTOPEN: 1,0 (<broker>)
    Given <modem>
    When the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"root","not the password"
      OK
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      OK
      +MQTTOPEN: 1,0
      AT+MQTTSUB=1,"test1",0
      ERROR
      AT+CMEE=1
      OK
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      OK
      +MQTTOPEN: 1,0
      +CME ERROR: <code>
      AT+MQTTUSER=1,"root","luat123456"
      OK
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",1883,0,60
      OK
      +MQTTOPEN: 1,1
      """

    Examples:
      | broker          | modem                            | code |
      | embedded broker | a simulated L610                 | 703  |

    @mosquitto
    Examples:
      | broker    | modem                            | code |
      | Mosquitto | a simulated L610 using Mosquitto | 704  |

  @negative @hardware
  Scenario: a publish while closed is refused in both forms, and nothing reaches the broker
    Given a simulated L610
    And an MQTT client "tool" subscribed to "test1"
    When the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTPUB=1,"test1",0,0,"while closed"
      ERROR
      AT+MQTTPUB=1,"test1",0,0,5
      ERROR
      AT+MQTTUSER=1,"root","luat123456"
      OK
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      AT+MQTTCLOSE=1
      OK
      +MQTTCLOSE: 1,1
      AT+MQTTPUB=1,"test1",0,0,"after close"
      ERROR
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      AT+MQTTPUB=1,"test1",0,0,"open again"
      OK
      +MQTTPUB: 1,1
      """
    # The first message the subscriber gets is the one sent while open.
    Then client "tool" receives "open again" on "test1"

  # The family reports a lost MQTT link with +MQTTBREAK: <id>,<cause> (fixtures/DIVERGENCES.md
  # for the causes); the will fires because the module never sent DISCONNECT.
  @link-loss @sim
  Scenario: the broker drops the link: +MQTTBREAK, and the will is published
    Given a simulated L610
    And an MQTT client "tool" subscribed to "status" at QoS 1
    When the host runs:
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
    And the broker drops the modem's connection
    Then the modem says:
      """
      +MQTTBREAK: 1,1
      """
    And client "tool" receives "gone" on "status" with QoS 1
    When the host runs:
      """
      AT+MQTTSUB=1,"t",0
      ERROR
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      """

  @link-loss @sim
  Scenario: the network deactivates the PDP context: +MIPCALL: 0 and +MQTTBREAK
    Given a simulated L610
    When the host runs:
      """
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"root","luat123456"
      OK
      AT+MQTTOPEN=1,"h",1883,1,60
      OK
      +MQTTOPEN: 1,1
      """
    And the network deactivates the PDP context
    Then the modem says:
      """
      +MIPCALL: 0
      +MQTTBREAK: 1,2
      """
    When the host runs:
      """
      AT+MIPCALL?
      +MIPCALL: 0
      OK
      AT+MQTTOPEN=1,"h",1883,1,60
      ERROR
      """

  # Not in the log: a mutual-TLS broker refuses an L610 that loaded no client certificate
  # (CAFILE/KEYFILE); the handshake fails (GTSSLERR 5: not the server's certificate).
  @negative @tls @sim
  Scenario Outline: a mutual-TLS broker refuses an L610 without a client certificate (<broker>)
    Given the broker's TLS listener requires client certificates
    And <modem>
    When the host runs:
      """
      ATE0
      OK
      AT+MIPCALL=1
      OK
      +MIPCALL: 10.104.48.68
      AT+MQTTUSER=1,"root","luat123456"
      OK
      AT+GTSSLVER=4
      OK
      """
    When the host loads "TRUSTFILE" from certs/ca.crt with AT+GTSSLFILE
    When the host runs:
      """
      AT+MQTTOPEN=1,"g510.mqtt.iot.bj.baidubce.com",8883,0,60
      OK
      +MQTTOPEN: 1,0
      AT+GTSSLERR?
      +GTSSLERR: 5
      OK
      """

    Examples:
      | broker          | modem                            |
      | embedded broker | a simulated L610                 |

    @mosquitto
    Examples:
      | broker          | modem                            |
      | Mosquitto       | a simulated L610 using Mosquitto |
