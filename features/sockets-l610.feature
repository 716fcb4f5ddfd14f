# The L610's raw sockets (issue 16 items 3 and 6): AT+MIPOPEN to the embedded TCP and UDP echo
# services (any host name goes there unless --resolve names it), AT+MIPSEND's length form with
# binary data, the data coming back as +MIPRTCP / +MIPRUDP lines in the default hex format
# (AT+GTSET="IPRFMT",0), several sockets at once, and the `closed` fault.
# Sources: sim/src/dialect/l610/mip.rs, README "The L610's sockets", fixtures/DIVERGENCES.md
# L30-L33. The steps cut sends to 2048 bytes per AT+MIPSEND, as the public L610 drivers do.
# @sim: the echo service every host name goes to, and the `closed` fault, are the simulator's.
@sockets @sim
Feature: The L610's TCP and UDP sockets

  Background:
    Given a simulated L610
    And the host runs:
      """
      ATE0
      OK
      AT+MIPCALL=1
      OK
      +MIPCALL: {}
      """

  Scenario: 10 kB of every byte value go to the TCP echo and come back unchanged
    When the host runs:
      """
      AT+MIPOPEN?
      +MIPOPEN: 1,2,3,4,5,6
      OK
      AT+MIPOPEN=1,,"echo.example.com",7,0
      OK
      +MIPOPEN: 1,1
      AT+MIPCLOSE?
      +MIPCLOSE: 1
      OK
      """
    And the host sends 10240 random bytes on socket 1 with AT+MIPSEND
    Then the host receives the random bytes back on socket 1
    When the host runs:
      """
      AT+MIPCLOSE=1
      OK
      +MIPCLOSE: 1,0
      AT+MIPCLOSE?
      +MIPCLOSE: 0
      OK
      """

  Scenario: a UDP datagram comes back from the echo service
    When the host runs:
      """
      AT+MIPOPEN=2,,"udp.example.com",7,1
      OK
      +MIPOPEN: 2,1
      """
    And the host sends "ping \x00\r\n\x1a pong" on socket 2 with AT+MIPSEND
    Then socket 2 receives "ping \x00\r\n\x1a pong"

  Scenario: three TCP sockets at once, each with its own echo
    When the host runs:
      """
      AT+MIPOPEN=1,,"a.example.com",7,0
      OK
      +MIPOPEN: 1,1
      AT+MIPOPEN=2,,"b.example.com",7,0
      OK
      +MIPOPEN: 2,1
      AT+MIPOPEN=3,,"c.example.com",7,0
      OK
      +MIPOPEN: 3,1
      AT+MIPOPEN?
      +MIPOPEN: 4,5,6
      OK
      """
    And the host sends "first" on socket 1 with AT+MIPSEND
    And the host sends "second" on socket 2 with AT+MIPSEND
    And the host sends "third" on socket 3 with AT+MIPSEND
    Then socket 3 receives "third"
    And socket 1 receives "first"
    And socket 2 receives "second"

  Scenario: the peer closes the socket: +MIPSTAT, and a later send fails
    When the host runs:
      """
      AT+MIPOPEN=1,,"echo.example.com",7,0
      OK
      +MIPOPEN: 1,1
      """
    And the fault "closed" is injected
    Then the modem says "+MIPSTAT: 1,2"
    When the host runs:
      """
      AT+MIPSEND=1,5
      ERROR
      AT+CMEE=1
      OK
      AT+MIPSEND=1,5
      +CME ERROR: 3
      AT+MIPCLOSE?
      +MIPCLOSE: 0
      OK
      """
