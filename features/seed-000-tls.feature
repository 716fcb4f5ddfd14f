# Replays the TLS logs of seed 000 (../shared/seeds/000_9b6cf5a5b5e7ba55.txt), the openLuat
# Air780E MQTT guide: section 6.3 (one-way, "SSL 带证书单向认证") and section 6.4 (mutual,
# "SSL 带证书双向认证"). Verbatim copies of the blocks:
#   fixtures/seed-logs/000-6.3-ssl-one-way.log
#   fixtures/seed-logs/000-6.4-ssl-two-way.log
#
# SUBSTITUTION: the guide writes EMQ's certificates (a 1212-byte ca.crt, a 1127-byte
# client.crt and a 1679-byte RSA client.key, all in the .log files above) for the vendor's
# server. Those would not verify against our broker, so each `the host writes ... with
# AT+FSWRITE` step writes the repository's test PKI (certs/, made by `modem-sim certs`)
# instead, with `AT+FSWRITE="<name>",0,<its real length>,15`, the `>` prompt, the bytes and
# `OK`, as in the guide. Everything else is the guide's log.
@seed-000 @tls
Feature: Seed 000, MQTT over TLS with certificates written over the UART

  @section-6.3 @sim
  Scenario Outline: one-way TLS (seclevel 1) with the CA written over the UART (<broker>)
    Given <modem>
    And an MQTT client "mqttx" subscribed to "mqtt/sub"
    When the host runs:
      """
      AT+CGATT?

      +CGATT: 1

      OK
      AT+FSCREATE="ca.crt"                          //创建ca证书文件

      OK
      """
    # The guide: AT+FSWRITE="ca.crt",0,1212,15 and EMQ's CA.
    And the host writes "ca.crt" from certs/ca.crt with AT+FSWRITE
    And the host runs:
      """
      AT+SSLCFG="cacert",88,"ca.crt"                //设置ca证书文件名称，ca.crt为证书文件名称

      OK
      AT+SSLCFG="seclevel",88,1                    //设置认证模式为只对服务器认证

      OK
      AT+MCONFIG=868488076771714,root,luat123456

      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"            //注意本次是ssl加密所以使用的是SSLMIPSTART

      OK

      CONNECT OK
      AT+MCONNECT=1,60

      OK

      CONNACK OK
      AT+MSUB="mqtt/pub",0                        //订阅主题

      OK

      SUBACK
      """
    When client "mqttx" publishes "data from tcp server" to "mqtt/pub"
    Then the modem says:
      """
      +MSUB: "mqtt/pub",20 byte,data from tcp server        //收到服务器下发消息
      """
    When the host runs:
      """
      AT+MPUB="mqtt/sub",0,0,"data from 4G module"            //上报消息到服务器

      OK
      """
    # Broker side: the subscriber on the broker's plain port gets the module's publish.
    Then client "mqttx" receives "data from 4G module" on "mqtt/sub"

    Examples:
      | broker          | modem                               |
      | embedded broker | a simulated Air780E                 |

    @mosquitto
    Examples:
      | broker          | modem                               |
      | Mosquitto       | a simulated Air780E using Mosquitto |

  @section-6.4 @sim
  Scenario Outline: mutual TLS (seclevel 2) with CA, client certificate and key written over the UART (<broker>)
    Given the broker's TLS listener requires client certificates
    And <modem>
    And an MQTT client "mqttx" subscribed to "mqtt/sub"
    When the host runs:
      """
      AT+CGATT?

      +CGATT: 1

      OK
      AT+FSCREATE="ca.crt"

      OK
      """
    # The guide: AT+FSWRITE="ca.crt",0,1212,15, "client.crt",0,1127,15, "client.key",0,1679,15.
    And the host writes "ca.crt" from certs/ca.crt with AT+FSWRITE
    And the host runs:
      """
      AT+FSCREATE="client.crt"                    //创建客户端证书文件

      OK
      """
    And the host writes "client.crt" from certs/client.crt with AT+FSWRITE
    And the host runs:
      """
      AT+FSCREATE="client.key"                //创建客户端key文件

      OK
      """
    And the host writes "client.key" from certs/client.key with AT+FSWRITE
    And the host runs:
      """
      AT+SSLCFG="cacert",88,"ca.crt"                //设置ca证书文件为ca.crt

      OK
      AT+SSLCFG="clientcert",88,"client.crt"        //设置客户端证书文件为client.crt

      OK
      AT+SSLCFG="clientkey",88,"client.key"         //设置客户端密钥文件为client.key

      OK
      AT+SSLCFG="seclevel",88,2                     //设置认证模式为双向认证

      OK
      AT+MCONFIG=868488076771714,root,luat123456

      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"

      OK

      CONNECT OK
      AT+MCONNECT=1,60

      OK

      CONNACK OK
      AT+MSUB="mqtt/pub",0                        //订阅主题

      OK

      SUBACK
      """
    When client "mqttx" publishes "data from tcp server" to "mqtt/pub"
    Then the modem says:
      """
      +MSUB: "mqtt/pub",20 byte,data from tcp server        //收到服务器下发消息
      """
    When the host runs:
      """
      AT+MPUB="mqtt/sub",0,0,"data from 4G module"            //上报消息到服务器

      OK
      """
    Then client "mqttx" receives "data from 4G module" on "mqtt/sub"

    Examples:
      | broker          | modem                               |
      | embedded broker | a simulated Air780E                 |

    @mosquitto
    Examples:
      | broker          | modem                               |
      | Mosquitto       | a simulated Air780E using Mosquitto |

  # --- What goes wrong. A failed handshake is `CONNECT FAIL`, the module's failure answer to
  # MIPSTART (fixtures/air780e-manual-notes.md section 2); with no link, `AT+MCONNECT` answers
  # `+CME ERROR: 767` (seed 003), so the modem never says `CONNACK OK`.

  @negative @sim
  Scenario Outline: a CA unrelated to the server never gets to CONNACK OK, and seclevel 0 connects with it (<broker>)
    Given <modem>
    When the host runs:
      """
      AT+FSCREATE="ca.crt"
      OK
      """
    And the host writes "ca.crt" from an unrelated CA with AT+FSWRITE
    And the host runs:
      """
      AT+SSLCFG="cacert",88,"ca.crt"
      OK
      AT+SSLCFG="seclevel",88,1
      OK
      AT+MCONFIG=868488076771714,root,luat123456
      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"
      OK
      STATE: IP INITIAL
      CONNECT FAIL
      AT+MCONNECT=1,60
      +CME ERROR: 767
      """
    # seclevel 0: the same wrong CA, no verification, a working session.
    When the host runs:
      """
      AT+SSLCFG="seclevel",88,0
      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """

    Examples:
      | broker          | modem                               |
      | embedded broker | a simulated Air780E                 |

    @mosquitto
    Examples:
      | broker          | modem                               |
      | Mosquitto       | a simulated Air780E using Mosquitto |

  @negative @sim
  Scenario Outline: a mutual-TLS broker refuses a modem without a client certificate (<broker>)
    Given the broker's TLS listener requires client certificates
    And <modem>
    When the host runs:
      """
      AT+FSCREATE="ca.crt"
      OK
      """
    And the host writes "ca.crt" from certs/ca.crt with AT+FSWRITE
    # seclevel 1: the server is verified, but the module presents no certificate.
    And the host runs:
      """
      AT+SSLCFG="cacert",88,"ca.crt"
      OK
      AT+SSLCFG="seclevel",88,1
      OK
      AT+MCONFIG=868488076771714,root,luat123456
      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"
      OK
      STATE: IP INITIAL
      CONNECT FAIL
      AT+MCONNECT=1,60
      +CME ERROR: 767
      """

    Examples:
      | broker          | modem                               |
      | embedded broker | a simulated Air780E                 |

    @mosquitto
    Examples:
      | broker          | modem                               |
      | Mosquitto       | a simulated Air780E using Mosquitto |

  @negative @sim
  Scenario: a server certificate for another host name fails seclevel 1, unless hostname names it
    Given the broker's TLS certificate is for "mqtt.example.net" only
    And a simulated Air780E
    When the host runs:
      """
      AT+FSCREATE="ca.crt"
      OK
      """
    And the host writes "ca.crt" from the broker's CA with AT+FSWRITE
    And the host runs:
      """
      AT+SSLCFG="cacert",88,"ca.crt"
      OK
      AT+SSLCFG="seclevel",88,1
      OK
      AT+MCONFIG=868488076771714,root,luat123456
      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"
      OK
      STATE: IP INITIAL
      CONNECT FAIL
      AT+SSLCFG="hostname",88,"mqtt.example.net"
      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"
      OK
      CONNECT OK
      AT+MCONNECT=1,60
      OK
      CONNACK OK
      """

  @negative @sim
  Scenario: an expired server certificate fails seclevel 1
    Given the broker's TLS certificate expired in 2021
    And a simulated Air780E
    When the host runs:
      """
      AT+FSCREATE="ca.crt"
      OK
      """
    And the host writes "ca.crt" from the broker's CA with AT+FSWRITE
    And the host runs:
      """
      AT+SSLCFG="cacert",88,"ca.crt"
      OK
      AT+SSLCFG="seclevel",88,1
      OK
      AT+MCONFIG=868488076771714,root,luat123456
      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"
      OK
      STATE: IP INITIAL
      CONNECT FAIL
      AT+MCONNECT=1,60
      +CME ERROR: 767
      """

  @negative @hardware
  Scenario: an AT+FSWRITE that never gets its bytes times out, and AT still answers OK
    Given a simulated Air780E
    When the host runs:
      """
      AT+FSCREATE="ca.crt"
      OK
      """
    When the host sends "AT+FSWRITE="ca.crt",0,1212,1"
    Then the modem says ">"
    When the host sends the bytes "-----BEGIN CERTIFICATE-----\r\n"
    Then the modem says "TimeOut"
    When the host runs:
      """
      AT
      OK
      AT+FSFLSIZE="ca.crt"
      +FSFLSIZE: 0
      OK
      """

  @negative @sim
  Scenario: a garbage PEM is answered with CONNECT FAIL, not a crash
    Given a simulated Air780E
    When the host runs:
      """
      AT+FSCREATE="ca.crt"
      OK
      """
    And the host writes "ca.crt" holding "-----BEGIN CERTIFICATE-----\r\nthis is not base64!\r\n-----END CERTIFICATE-----\r\n" with AT+FSWRITE
    And the host runs:
      """
      AT+SSLCFG="cacert",88,"ca.crt"
      OK
      AT+SSLCFG="seclevel",88,1
      OK
      AT+MCONFIG=868488076771714,root,luat123456
      OK
      AT+SSLMIPSTART="airtest.openluat.com","8883"
      OK
      STATE: IP INITIAL
      CONNECT FAIL
      AT
      OK
      """
