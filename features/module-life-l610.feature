# Issue 11 on the Fibocom L610: identity, clock, attach, address, reset. The forms follow
# 27.007 and the Fibocom family (fixtures/DIVERGENCES.md L21, L22); values a real capture holds
# are the profile's (fixtures/profiles/l610.tsv).
@life
Feature: Identity, attach, address and reset of the L610

  @hardware
  Scenario: identity, attach and the data call's address
    Given a simulated L610
    When the host runs:
      """
      ATI
      Fibocom
      L610
      16000.1208.00.86.02.02
      OK
      AT+CGMI
      +CGMI: "Fibocom"
      OK
      AT+CGMM
      +CGMM: "L610"
      OK
      AT+CGMR
      +CGMR: "16000.1208.00.86.02.02"
      OK
      AT+CCID
      +CCID: 89860117831003134201
      OK
      AT+CGATT=1
      OK
      AT+CGATT?
      +CGATT: 1
      OK
      AT+MIPCALL=1,"UNINET"
      OK
      +MIPCALL: 10.104.48.68
      AT+CGPADDR=1
      +CGPADDR: 1,"10.104.48.68"
      OK
      AT+GTSSLFILE?
      +GTSSLFILE: CAFILE,0
      +GTSSLFILE: KEYFILE,0
      +GTSSLFILE: TRUSTFILE,0
      OK
      """
    And the host sends "AT+CCLK?"
    Then the modem says a line starting with "+CCLK: ""

  @sim
  Scenario: AT+CFUN=15 restarts the module: OK, then the power-on URCs
    Given a simulated L610
    When the host runs:
      """
      AT+CFUN=15
      OK
      AT command ready
      +SIM READY
      """
