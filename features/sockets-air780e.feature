# The Air780E's raw sockets (issue 16), as a driver uses them: AT+CIPSTART to the embedded TCP
# and UDP echo services (any host name goes there unless --resolve names it), AT+CIPSEND's
# length form and its Ctrl-Z form with binary data, the data coming back framed as
# AT+CIPHEAD / AT+CIPSRIP / AT+CIPSHOWTP say (`+IPD,<n>:`, read by length), several links
# with AT+CIPMUX=1 (`+RECEIVE,<n>,<len>:`), the transparent mode in and out with `+++` and
# ATO, the `closed` fault, and AT+CIPCLOSE. Sources: sim/src/dialect/air780e/cip.rs (each
# command's doc comment cites the AT manual's TCPIP pages), README "Sockets and the embedded
# echo service", fixtures/DIVERGENCES.md S1-S10. The steps cut sends at 1460 bytes, the most
# one AT+CIPSEND takes (CIPSEND.md).
# @sim: the echo service every host name goes to, and the `closed` fault, are the simulator's.
@sockets @sim
Feature: The Air780E's TCP and UDP sockets

  Background:
    Given a simulated Air780E
    And the host runs:
      """
      // No link yet: a send is not allowed (CIPSEND.md).
      AT+CIPSEND=5
      +CME ERROR: 3
      AT+CIPSTATUS
      OK
      STATE: IP INITIAL
      """

  Scenario: text to the TCP echo comes back bare, then framed by +IPD, until AT+CIPCLOSE
    When the host runs:
      """
      AT+CIPSTART="TCP","echo.example.com",7
      OK
      CONNECT OK
      AT+CIPSTATUS
      OK
      STATE: CONNECT OK
      AT+CIPSEND=5
      > hello
      SEND OK
      hello
      AT+CIPHEAD=1
      OK
      AT+CIPSEND
      > ping
      """
    And the host sends the bytes "\x1a"
    Then the modem says:
      """
      SEND OK
      +IPD,4:ping
      """
    When the host runs:
      """
      AT+CIPCLOSE
      CLOSE OK
      AT+CIPSTATUS
      OK
      STATE: TCP CLOSED
      AT+CIPSEND=5
      +CME ERROR: 3
      AT+CIPCLOSE
      ERROR
      """

  Scenario: 10 kB of every byte value go to the TCP echo and come back unchanged, by length
    When the host runs:
      """
      AT+CIPHEAD=1
      OK
      AT+CIPSTART="TCP","echo.example.com",7
      OK
      CONNECT OK
      """
    And the host sends 10240 random bytes with AT+CIPSEND
    Then the host receives the random bytes back
    When the host sends 1400 random bytes with AT+CIPSEND ended by Ctrl-Z
    Then the host receives the random bytes back
    When the host sends "\r\n\x00> +++OK\r\nCLOSED\r\n" with AT+CIPSEND
    Then the socket receives "\r\n\x00> +++OK\r\nCLOSED\r\n"
    When the host runs:
      """
      AT+CIPCLOSE=1
      CLOSE OK
      """

  Scenario: a UDP datagram comes back with the sender's address and the protocol
    When the host runs:
      """
      AT+CIPHEAD=1
      OK
      AT+CIPSRIP=1
      OK
      AT+CIPSHOWTP=1
      OK
      AT+CIPSTART="UDP","udp.example.com",7
      OK
      CONNECT OK
      AT+CIPSEND=4
      > ping
      SEND OK
      RECV FROM:127.0.0.1:{}
      +IPD,4,UDP:ping
      """
    And the host sends "ping \x00\r\n\x1a pong" with AT+CIPSEND
    Then the socket receives "ping \x00\r\n\x1a pong"
    When the host runs:
      """
      AT+CIPSTATUS
      OK
      STATE: CONNECT OK
      AT+CIPCLOSE
      CLOSE OK
      """

  Scenario: two links at once with AT+CIPMUX=1, each with its own echo
    When the host runs:
      """
      AT+CIPMUX=1
      OK
      AT+CSTT
      OK
      AT+CIICR
      OK
      AT+CIFSR
      {}.{}.{}.{}
      AT+CIPSTART=0,"TCP","a.example.com",7
      OK
      0, CONNECT OK
      AT+CIPSTART=1,"UDP","b.example.com",7
      OK
      1, CONNECT OK
      """
    And the host sends 3000 random bytes on socket 0 with AT+CIPSEND
    And the host sends "second\r\n\x00" on socket 1 with AT+CIPSEND
    And the host sends "third" on socket 0 with AT+CIPSEND ended by Ctrl-Z
    Then socket 1 receives "second\r\n\x00"
    And the host receives the random bytes back on socket 0
    And socket 0 receives "third"
    When the host runs:
      """
      AT+CIPCLOSE=1
      1, CLOSE OK
      AT+CIPSTATUS=1
      +CIPSTATUS: 1,0,"UDP","b.example.com","7","CLOSED"
      OK
      AT+CIPSEND=1,5
      +CME ERROR: 3
      AT+CIPCLOSE=0
      0, CLOSE OK
      """

  Scenario: the transparent mode, in and out with +++ and ATO
    When the host runs:
      """
      AT+CIPMODE=1
      OK
      AT+CIPSTART="TCP","echo.example.com",7
      OK
      CONNECT
      """
    And the host sends 3000 random bytes in the data mode
    Then the host receives the random bytes back in the data mode
    When the host sends the bytes "AT+CIPCLOSE\r\n+++\x00\x1a"
    Then the host receives "AT+CIPCLOSE\r\n+++\x00\x1a" back in the data mode
    When the host leaves the data mode with "+++"
    And the host runs:
      """
      AT+CIPSTATUS
      OK
      STATE: CONNECT OK
      // The link is the data mode's: no AT+CIPSEND on it.
      AT+CIPSEND=5
      +CME ERROR: 3
      ATO
      CONNECT
      """
    And the host sends 100 random bytes in the data mode
    Then the host receives the random bytes back in the data mode
    When the host leaves the data mode with "+++"
    And the host runs:
      """
      AT+CIPCLOSE
      CLOSE OK
      ATO
      NO CARRIER
      """

  Scenario: the peer closes the link: CLOSED, and a later send fails
    When the host runs:
      """
      AT+CIPHEAD=1
      OK
      AT+CIPSTART="TCP","echo.example.com",7
      OK
      CONNECT OK
      """
    And the host sends "before" with AT+CIPSEND
    Then the socket receives "before"
    When the fault "closed" is injected
    Then the modem says "CLOSED"
    When the host runs:
      """
      AT+CIPSEND=5
      +CME ERROR: 3
      AT+CIPSEND
      +CME ERROR: 3
      AT+CIPSTATUS
      OK
      STATE: TCP CLOSED
      AT+CIPCLOSE
      ERROR
      """
