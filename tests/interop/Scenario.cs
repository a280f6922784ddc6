// The .NET integrator's scenario against a live soapsms, through the proxy
// that mono's `wsdl` generated from the served WSDL (namespace SoapSms).
//
//   mono scenario.exe BASE_URL PATH ACCOUNT PASSWORD REFERENCE
//
// Prints one "ok <step>" line per check and "batch=<id>" for the caller to
// cross-check; any failed check throws, and the exit code is 1.
using System;
using System.Net;
using System.Runtime.InteropServices;
using System.Web.Services.Protocols;
using SoapSms;

public static class Scenario
{
    const string Soap11Env = "http://schemas.xmlsoap.org/soap/envelope/";
    const string Ns = "urn:soapsms:v1";

    static void Check(bool condition, string what)
    {
        if (!condition) throw new Exception("check failed: " + what);
    }

    static void Ok(string step)
    {
        Console.WriteLine("ok " + step);
    }

    // The process ends here, without mono's runtime shutdown: that shutdown
    // now and then aborts (SIGABRT, "Assertion at mono-threads.c ...
    // previous_token") while stopping the HTTP client's idle threads, after
    // every check has passed.
    [DllImport("libc", EntryPoint = "_exit")]
    static extern void Exit(int status);

    public static int Main(string[] args)
    {
        int code;
        try
        {
            Run(args[0] + args[1], args[2], args[3], args[4]);
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

    static void Run(string url, string account, string password, string reference)
    {
        var svc = new SmsService();
        svc.Url = url;
        bool soap12 = svc.SoapVersion == SoapProtocolVersion.Soap12;
        Console.WriteLine("soap=" + (soap12 ? "1.2" : "1.1"));
        var auth = new Auth { AccountId = account, Password = password };

        AccountInfo info = svc.GetAccount(auth);
        Check(info.AccountId == account, "GetAccount AccountId");
        Check(info.MaxRecipientsPerRequest == 10000, "MaxRecipientsPerRequest");
        Check(!info.CreditsSpecified, "unlimited credits come back absent");
        Ok("GetAccount");

        var message = new OutboundMessage
        {
            Text = "Serveur web01 arr\u00eat\u00e9 \u2013 INC000123",
            Recipients = new[] { "+17036069996", "17036069997", "not-a-number" },
            ClientReference = reference,
            ValidityMinutes = 60,
            ValidityMinutesSpecified = true,
        };
        SendMessageResult sent = svc.SendMessage(auth, message);
        Check(sent.AcceptedCount == 2 && sent.RejectedCount == 1, "counts");
        Check(sent.ClientReference == reference, "ClientReference echoed");
        Check(sent.Messages.Length == 2, "two receipts");
        Check(sent.Messages[1].Recipient == "+17036069997", "E.164 receipt");
        Check(sent.Messages[0].Status == "QUEUED", "QUEUED");
        Check(sent.Messages[0].Encoding == "UCS2", "UCS2 for non-GSM text");
        Check(sent.Messages[0].Parts == 1, "one part");
        Check(sent.Rejected.Length == 1, "one rejection");
        Check(sent.Rejected[0].Recipient == "not-a-number", "rejected as given");
        Check(sent.Rejected[0].Reason == "INVALID_NUMBER", "INVALID_NUMBER");
        Console.WriteLine("batch=" + sent.BatchId);
        Ok("SendMessage");

        SendMessageResult again = svc.SendMessage(auth, message);
        Check(again.BatchId == sent.BatchId, "same ClientReference, same batch");
        Ok("SendMessage replay");

        MessageStatus[] byBatch = svc.GetStatus(auth, null, sent.BatchId, null);
        Check(byBatch.Length == 2, "GetStatus by batch");
        Check(byBatch[0].Status == "QUEUED", "status QUEUED");
        Check(byBatch[0].BatchId == sent.BatchId, "status BatchId");
        Check(byBatch[0].CreatedAtSpecified, "CreatedAt present");
        Check(byBatch[0].PartsSpecified && byBatch[0].Parts == 1, "Parts");
        string[] ids = { sent.Messages[0].MessageId, "01NOSUCHMESSAGE0000000000" };
        MessageStatus[] byId = svc.GetStatus(auth, ids, null, null);
        Check(byId.Length == 2, "GetStatus by ids");
        Check(byId[0].Recipient == "+17036069996", "status recipient");
        Check(byId[1].Status == "UNKNOWN" && byId[1].Recipient == null, "UNKNOWN");
        Ok("GetStatus");

        DateTime since = DateTime.UtcNow.AddHours(-1);
        MessagePage first = svc.ListMessages(
            auth, since, true, DateTime.MinValue, false, "QUEUED", null,
            sent.BatchId, null, 1, true);
        Check(first.Messages.Length == 1, "first page of one");
        Check(first.NextCursor != null, "NextCursor on the first page");
        MessagePage second = svc.ListMessages(
            auth, since, true, DateTime.MinValue, false, "QUEUED", null,
            sent.BatchId, first.NextCursor, 1, true);
        Check(second.Messages.Length == 1, "second page of one");
        Check(second.NextCursor == null, "no cursor on the last page");
        Check(first.Messages[0].MessageId != second.Messages[0].MessageId, "pages");
        Ok("ListMessages");

        string[] cancel = { sent.Messages[0].MessageId };
        MessageStatus[] cancelled = svc.CancelMessage(auth, cancel, null, null);
        Check(cancelled.Length == 1, "one cancelled");
        Check(cancelled[0].Status == "CANCELLED", "CANCELLED");
        Ok("CancelMessage");

        try
        {
            svc.GetAccount(new Auth { AccountId = account, Password = "wrong" });
            throw new Exception("check failed: a wrong password was accepted");
        }
        catch (SoapException fault)
        {
            Console.WriteLine("fault=" + fault.Code + " subcode="
                + (fault.SubCode == null ? "" : fault.SubCode.Code.ToString()));
            if (soap12)
            {
                Check(fault.Code.Name == "Sender", "1.2 Code Sender");
                Check(fault.SubCode != null, "1.2 Subcode present");
                Check(fault.SubCode.Code.Name == "AuthenticationFailed", "Subcode");
                Check(fault.SubCode.Code.Namespace == Ns, "Subcode namespace");
            }
            else
            {
                Check(fault.Code.Name == "Client.AuthenticationFailed", "faultcode");
                Check(fault.Code.Namespace == Soap11Env, "faultcode namespace");
            }
        }
        Ok("wrong password is a fault");

        // No Auth in the body: the server answers 401 with a Basic challenge,
        // and the proxy retries with the credentials it was given.
        var basic = new SmsService();
        basic.Url = url;
        basic.Credentials = new NetworkCredential(account, password);
        Check(basic.GetAccount(null).AccountId == account, "Basic after challenge");
        Ok("HTTP Basic");
    }
}
