"""The SOAP adapter: wire types, faults, operations, protocols and WSDL."""
