# Values that differ per module and per moment (issue 11 item 6): in an expected line `{}`
# matches one or more characters within the line and the rest is compared exactly, in the
# scenarios as in `modem-harness replay` (harness/src/pattern.rs, the one matcher).
# Sources: the AT manual's CGSN page (a bare IMEI; fixtures/real/air780e-man-cgsn.log) and its
# TCPIP "使用方法举例" (AT+CSTT, AT+CIICR, then AT+CIFSR printing the bare address
# `010.083.172.111`; fixtures/real/pending/air780e-man-tcpip-bearer.log).
@wildcards
Feature: Values that differ per module

  @hardware
  Scenario: the IMEI and the bearer's address are matched by {}
    Given a simulated Air780E
    When the host sends "AT+CGSN"
    Then the modem answers "{}"
    And the modem answers "OK"
    When the host runs:
      """
      AT+CSTT
      OK
      AT+CIICR
      OK
      AT+CIFSR
      {}.{}.{}.{}
      """
