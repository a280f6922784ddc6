// The Java integrator's scenario against a live soapsms, through the JAX-WS
// classes that `wsimport -p soapsms.client` generated from the served WSDL.
//
//   java Scenario BASE_URL PATH ACCOUNT PASSWORD REFERENCE
//
// Prints one "ok <step>" line per check and "batch=<id>" for the caller to
// cross-check; any failed check throws, and the exit code is 1.
import java.net.URL;
import java.util.GregorianCalendar;
import java.util.Iterator;
import java.util.List;
import java.util.TimeZone;
import javax.xml.datatype.DatatypeFactory;
import javax.xml.datatype.XMLGregorianCalendar;
import javax.xml.namespace.QName;
import javax.xml.soap.SOAPFault;
import javax.xml.ws.Binding;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.handler.Handler;
import javax.xml.ws.soap.SOAPBinding;
import javax.xml.ws.soap.SOAPFaultException;
import soapsms.client.AccountInfo;
import soapsms.client.Auth;
import soapsms.client.MessageIdList;
import soapsms.client.MessagePage;
import soapsms.client.MessageReceipt;
import soapsms.client.MessageStatus;
import soapsms.client.OutboundMessage;
import soapsms.client.RecipientList;
import soapsms.client.SendMessageResult;
import soapsms.client.SmsService;
import soapsms.client.SmsServicePortType;

public class Scenario {
    static final String SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/";
    static final String SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope";
    static final String NS = "urn:soapsms:v1";

    static void check(boolean condition, String what) {
        if (!condition) {
            throw new AssertionError("check failed: " + what);
        }
    }

    static void ok(String step) {
        System.out.println("ok " + step);
    }

    public static void main(String[] args) {
        try {
            run(args[0] + args[1], args[2], args[3], args[4]);
            System.out.println("SCENARIO OK");
        } catch (Throwable e) {
            System.out.println("SCENARIO FAILED: " + e);
            e.printStackTrace(System.out);
            System.exit(1);
        }
    }

    static SmsServicePortType port(SmsService service, String url) {
        SmsServicePortType port = service.getSmsServicePort();
        ((BindingProvider) port).getRequestContext()
            .put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, url);
        return port;
    }

    static Auth auth(String account, String password) {
        Auth auth = new Auth();
        auth.setAccountId(account);
        auth.setPassword(password);
        return auth;
    }

    static void expectAuthenticationFailed(SOAPFaultException e, boolean soap12)
            throws Exception {
        SOAPFault fault = e.getFault();
        QName code = fault.getFaultCodeAsQName();
        System.out.println("fault=" + code + " string=" + fault.getFaultString());
        if (soap12) {
            check(code.equals(new QName(SOAP12_ENV, "Sender")), "1.2 Code Sender");
            Iterator<QName> subcodes = fault.getFaultSubcodes();
            check(subcodes.hasNext(), "1.2 Subcode present");
            QName subcode = subcodes.next();
            check(subcode.equals(new QName(NS, "AuthenticationFailed")), "Subcode");
        } else {
            check(code.equals(new QName(SOAP11_ENV, "Client.AuthenticationFailed")),
                "faultcode");
        }
    }

    static void run(String url, String account, String password, String reference)
            throws Exception {
        SmsService service = new SmsService(new URL(url + "?wsdl"));
        SmsServicePortType sms = port(service, url);
        String bindingId = ((BindingProvider) sms).getBinding().getBindingID();
        boolean soap12 = SOAPBinding.SOAP12HTTP_BINDING.equals(bindingId);
        System.out.println("soap=" + (soap12 ? "1.2" : "1.1"));
        Auth auth = auth(account, password);

        AccountInfo info = sms.getAccount(auth);
        check(info.getAccountId().equals(account), "GetAccount AccountId");
        check(info.getMaxRecipientsPerRequest() == 10000, "MaxRecipientsPerRequest");
        check(info.getCredits() == null, "unlimited credits come back absent");
        ok("GetAccount");

        OutboundMessage message = new OutboundMessage();
        message.setText("Serveur web01 arr\u00eat\u00e9 \u2013 INC000123");
        RecipientList recipients = new RecipientList();
        recipients.getRecipient().addAll(
            List.of("+17036069996", "17036069997", "not-a-number"));
        message.setRecipients(recipients);
        message.setClientReference(reference);
        message.setValidityMinutes(60);
        SendMessageResult sent = sms.sendMessage(auth, message);
        List<MessageReceipt> receipts = sent.getMessages().getMessageReceipt();
        check(sent.getAcceptedCount() == 2 && sent.getRejectedCount() == 1, "counts");
        check(reference.equals(sent.getClientReference()), "ClientReference echoed");
        check(receipts.size() == 2, "two receipts");
        check(receipts.get(1).getRecipient().equals("+17036069997"), "E.164");
        check(receipts.get(0).getStatus().equals("QUEUED"), "QUEUED");
        check(receipts.get(0).getEncoding().equals("UCS2"), "UCS2 for non-GSM text");
        check(receipts.get(0).getParts() == 1, "one part");
        var rejected = sent.getRejected().getRejectedRecipient();
        check(rejected.size() == 1, "one rejection");
        check(rejected.get(0).getRecipient().equals("not-a-number"), "as given");
        check(rejected.get(0).getReason().equals("INVALID_NUMBER"), "INVALID_NUMBER");
        System.out.println("batch=" + sent.getBatchId());
        ok("SendMessage");

        SendMessageResult again = sms.sendMessage(auth, message);
        check(again.getBatchId().equals(sent.getBatchId()), "same reference, batch");
        ok("SendMessage replay");

        List<MessageStatus> byBatch =
            sms.getStatus(auth, null, sent.getBatchId(), null).getMessageStatus();
        check(byBatch.size() == 2, "GetStatus by batch");
        check(byBatch.get(0).getStatus().equals("QUEUED"), "status QUEUED");
        check(byBatch.get(0).getBatchId().equals(sent.getBatchId()), "BatchId");
        check(byBatch.get(0).getCreatedAt() != null, "CreatedAt present");
        check(byBatch.get(0).getParts() == 1, "Parts");
        MessageIdList ids = new MessageIdList();
        ids.getMessageId().add(receipts.get(0).getMessageId());
        ids.getMessageId().add("01NOSUCHMESSAGE0000000000");
        List<MessageStatus> byId = sms.getStatus(auth, ids, null, null).getMessageStatus();
        check(byId.size() == 2, "GetStatus by ids");
        check(byId.get(0).getRecipient().equals("+17036069996"), "recipient");
        check(byId.get(1).getStatus().equals("UNKNOWN"), "UNKNOWN");
        check(byId.get(1).getRecipient() == null, "UNKNOWN carries nothing else");
        ok("GetStatus");

        GregorianCalendar hourAgo = new GregorianCalendar(TimeZone.getTimeZone("UTC"));
        hourAgo.add(GregorianCalendar.HOUR, -1);
        XMLGregorianCalendar since =
            DatatypeFactory.newInstance().newXMLGregorianCalendar(hourAgo);
        MessagePage first = sms.listMessages(
            auth, since, null, "QUEUED", null, sent.getBatchId(), null, 1);
        check(first.getMessages().getMessageStatus().size() == 1, "first page");
        check(first.getNextCursor() != null, "NextCursor on the first page");
        MessagePage second = sms.listMessages(
            auth, since, null, "QUEUED", null, sent.getBatchId(),
            first.getNextCursor(), 1);
        check(second.getMessages().getMessageStatus().size() == 1, "second page");
        check(second.getNextCursor() == null, "no cursor on the last page");
        ok("ListMessages");

        MessageIdList cancel = new MessageIdList();
        cancel.getMessageId().add(receipts.get(0).getMessageId());
        List<MessageStatus> cancelled =
            sms.cancelMessage(auth, cancel, null, null).getMessageStatus();
        check(cancelled.size() == 1, "one cancelled");
        check(cancelled.get(0).getStatus().equals("CANCELLED"), "CANCELLED");
        ok("CancelMessage");

        try {
            sms.getAccount(auth(account, "wrong"));
            throw new AssertionError("check failed: a wrong password was accepted");
        } catch (SOAPFaultException e) {
            expectAuthenticationFailed(e, soap12);
        }
        ok("wrong password is a fault");

        // WS-Security UsernameToken in the header, no Auth in the body.
        SmsServicePortType wsse = port(service, url);
        Binding binding = ((BindingProvider) wsse).getBinding();
        @SuppressWarnings("rawtypes")
        List<Handler> chain = binding.getHandlerChain();
        chain.add(new UsernameTokenHandler(account, password));
        binding.setHandlerChain(chain);
        check(wsse.getAccount(null).getAccountId().equals(account), "wsse GetAccount");
        List<MessageStatus> viaToken =
            wsse.getStatus(null, null, sent.getBatchId(), null).getMessageStatus();
        check(viaToken.size() == 2, "wsse GetStatus");
        ok("WS-Security UsernameToken");

        SmsServicePortType badToken = port(service, url);
        Binding badBinding = ((BindingProvider) badToken).getBinding();
        @SuppressWarnings("rawtypes")
        List<Handler> badChain = badBinding.getHandlerChain();
        badChain.add(new UsernameTokenHandler(account, "wrong"));
        badBinding.setHandlerChain(badChain);
        try {
            badToken.getAccount(null);
            throw new AssertionError("check failed: a wrong token was accepted");
        } catch (SOAPFaultException e) {
            expectAuthenticationFailed(e, soap12);
        }
        ok("wrong UsernameToken is a fault");

        // HTTP Basic: the JAX-WS RI sends it with the first request.
        SmsServicePortType basic = port(service, url);
        ((BindingProvider) basic).getRequestContext()
            .put(BindingProvider.USERNAME_PROPERTY, account);
        ((BindingProvider) basic).getRequestContext()
            .put(BindingProvider.PASSWORD_PROPERTY, password);
        check(basic.getAccount(null).getAccountId().equals(account), "Basic");
        ok("HTTP Basic");
    }
}
