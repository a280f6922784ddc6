// The WCF integrator's scenario against a live soapsms, through the client
// that mono's `svcutil` generated from the served WSDL: data contracts, so
// every value-type field is always sent (ScheduledFor as DateTime.MinValue,
// ValidityMinutes and Limit as 0) and the server must read them as absent.
//
//   mono scenario.exe BASE_URL PATH ACCOUNT PASSWORD REFERENCE
//
// Prints one "ok <step>" line per check and "batch=<id>" for the caller to
// cross-check; any failed check throws, and the exit code is 1.
using System;
using System.Runtime.InteropServices;
using System.ServiceModel;
using System.ServiceModel.Channels;
using System.Text;
using soapsms.v1;

public static class Scenario
{
    static void Check(bool condition, string what)
    {
        if (!condition) throw new Exception("check failed: " + what);
    }

    static void Ok(string step)
    {
        Console.WriteLine("ok " + step);
    }

    // As Scenario.cs: mono's runtime shutdown now and then aborts while
    // stopping the HTTP client's idle threads, after every check has passed.
    [DllImport("libc", EntryPoint = "_exit")]
    static extern void Exit(int status);

    public static int Main(string[] args)
    {
        int code;
        try
        {
            Run(args[0] + args[1], args[1] == "/soap12", args[2], args[3], args[4]);
            Console.WriteLine("SCENARIO OK");
            code = 0;
        }
        catch (Exception e)
        {
            Console.WriteLine("SCENARIO FAILED: " + e);
            code = 1;
        }
        Console.Out.Flush();
        Exit(code);
        return code;
    }

    // SOAP 1.1: BasicHttpBinding. SOAP 1.2 without WS-Addressing: a custom
    // binding, as WCF integrators write it for a plain 1.2 service.
    static Binding MakeBinding(bool soap12, bool basic)
    {
        var version = soap12 ? MessageVersion.Soap12 : MessageVersion.Soap11;
        var transport = new HttpTransportBindingElement();
        if (basic) transport.AuthenticationScheme = System.Net.AuthenticationSchemes.Basic;
        return new CustomBinding(
            new TextMessageEncodingBindingElement(version, Encoding.UTF8), transport);
    }

    static SmsServicePortTypeClient MakeClient(string url, bool soap12, bool basic)
    {
        return new SmsServicePortTypeClient(
            MakeBinding(soap12, basic), new EndpointAddress(url));
    }

    static void Run(string url, bool soap12, string account, string password, string reference)
    {
        var svc = MakeClient(url, soap12, false);
        Console.WriteLine("soap=" + (soap12 ? "1.2" : "1.1"));
        var auth = new Auth { AccountId = account, Password = password };

        AccountInfo info = svc.GetAccount(auth);
        Check(info.AccountId == account, "GetAccount AccountId");
        Check(info.MaxRecipientsPerRequest == 10000, "MaxRecipientsPerRequest");
        Ok("GetAccount");

        // ScheduledFor and ValidityMinutes are left unset: the data contract
        // sends 0001-01-01T00:00:00 and 0.
        var message = new OutboundMessage
        {
            Text = "Serveur web01 arr\u00eat\u00e9 \u2013 INC000123",
            Recipients = new RecipientList { "+17036069996", "17036069997", "not-a-number" },
            ClientReference = reference,
        };
        SendMessageResult sent = svc.SendMessage(auth, message);
        Check(sent.AcceptedCount == 2 && sent.RejectedCount == 1, "counts");
        Check(sent.ClientReference == reference, "ClientReference echoed");
        Check(sent.Messages.Count == 2, "two receipts");
        Check(sent.Messages[1].Recipient == "+17036069997", "E.164 receipt");
        Check(sent.Messages[0].Status == "QUEUED", "QUEUED, not SCHEDULED for year 1");
        Check(sent.Messages[0].Encoding == "UCS2", "UCS2 for non-GSM text");
        Check(sent.Rejected.Count == 1, "one rejection");
        Check(sent.Rejected[0].Reason == "INVALID_NUMBER", "INVALID_NUMBER");
        Console.WriteLine("batch=" + sent.BatchId);
        Ok("SendMessage");

        SendMessageResult again = svc.SendMessage(auth, message);
        Check(again.BatchId == sent.BatchId, "same ClientReference, same batch");
        Ok("SendMessage replay");

        MessageStatusList byBatch = svc.GetStatus(auth, null, sent.BatchId, null);
        Check(byBatch.Count == 2, "GetStatus by batch");
        Check(byBatch[0].Status == "QUEUED", "status QUEUED");
        Check(byBatch[0].BatchId == sent.BatchId, "status BatchId");
        var ids = new MessageIdList { sent.Messages[0].MessageId, "01NOSUCHMESSAGE0000000000" };
        MessageStatusList byId = svc.GetStatus(auth, ids, null, null);
        Check(byId.Count == 2, "GetStatus by ids");
        Check(byId[1].Status == "UNKNOWN", "UNKNOWN");
        Ok("GetStatus");

        // Until unset (MinValue) and Limit unset (0): absent, the default page.
        DateTime since = DateTime.UtcNow.AddHours(-1);
        MessagePage all = svc.ListMessages(
            auth, since, DateTime.MinValue, "QUEUED", null, sent.BatchId, null, 0);
        Check(all.Messages.Count == 2, "Limit 0 is the default page");
        MessagePage first = svc.ListMessages(
            auth, since, DateTime.MinValue, "QUEUED", null, sent.BatchId, null, 1);
        Check(first.Messages.Count == 1 && first.NextCursor != null, "first page of one");
        MessagePage second = svc.ListMessages(
            auth, since, DateTime.MinValue, "QUEUED", null, sent.BatchId, first.NextCursor, 1);
        Check(second.Messages.Count == 1 && second.NextCursor == null, "last page");
        Ok("ListMessages");

        var cancel = new MessageIdList { sent.Messages[0].MessageId };
        MessageStatusList cancelled = svc.CancelMessage(auth, cancel, null, null);
        Check(cancelled.Count == 1 && cancelled[0].Status == "CANCELLED", "CANCELLED");
        Ok("CancelMessage");

        try
        {
            svc.GetAccount(new Auth { AccountId = account, Password = "wrong" });
            throw new Exception("check failed: a wrong password was accepted");
        }
        catch (FaultException fault)
        {
            Console.WriteLine("fault=" + fault.Code.Name + " subcode="
                + (fault.Code.SubCode == null ? "" : fault.Code.SubCode.Name));
            string code = fault.Code.SubCode != null ? fault.Code.SubCode.Name : fault.Code.Name;
            Check(code.EndsWith("AuthenticationFailed"), "AuthenticationFailed");
        }
        Ok("wrong password is a fault");

        // No Auth in the body: HTTP Basic carries the credentials.
        var basic = MakeClient(url, soap12, true);
        basic.ClientCredentials.UserName.UserName = account;
        basic.ClientCredentials.UserName.Password = password;
        Check(basic.GetAccount(null).AccountId == account, "Basic");
        Ok("HTTP Basic");
    }
}
