#!/usr/bin/perl
# The Perl integrator's scenario against a live soapsms, with SOAP::Lite
# (Debian's libsoap-lite-perl) as it is usually written: no WSDL, the
# operations called by name, the arguments built with SOAP::Data.
#
#   perl scenario_soaplite.pl BASE_URL PATH ACCOUNT PASSWORD REFERENCE
#
# Prints one "ok <step>" line per check and "batch=<id>" for the caller to
# cross-check; a failed check dies, and the exit code is not 0.
use strict;
use warnings;
use utf8;
use SOAP::Lite;

binmode STDOUT, ':encoding(UTF-8)';
my ($base, $path, $account, $password, $reference) = @ARGV;
my $NS = 'urn:soapsms:v1';
my $TEXT = "Serveur web01 arr\x{ea}t\x{e9} \x{2013} INC000123";

sub check { my ($ok, $what) = @_; die "check failed: $what\n" unless $ok; }
sub ok { print "ok $_[0]\n"; }

sub client {
    # The version is partly global in SOAP::Lite: set on the class before a
    # client is built, or that client's envelope stays half SOAP 1.1.
    SOAP::Lite->soapversion($path eq '/soap12' ? '1.2' : '1.1');
    my $soap = SOAP::Lite->new;
    $soap->proxy("$base$path", timeout => 60)
        ->default_ns($NS)
        ->on_action(sub { $_[1] })
        ->on_fault(sub { my ($soap, $res) = @_; die ref $res ? $res : "transport: $res\n" });
    return $soap;
}

sub el { my ($name, @value) = @_; SOAP::Data->name($name => @value) }

sub auth {
    my ($pw) = @_;
    return el(Auth => \SOAP::Data->value(
        el(AccountId => $account)->type('string'),
        el(Password => $pw)->type('string'),
    ));
}

sub result { my ($som) = @_; die $som->faultstring . "\n" if $som->fault; $som }

my $soap = client();
print 'soap=', ($path eq '/soap12' ? '1.2' : '1.1'), "\n";

# GetAccount with no arguments at all: SOAP::Lite sends
# <GetAccount xsi:nil="true"/>, and the credentials go as HTTP Basic after
# the server's 401 challenge.
{
    no warnings qw(redefine once);
    *SOAP::Transport::HTTP::Client::get_basic_credentials = sub { ($account, $password) };
}
my $info = result($soap->GetAccount())->valueof('//GetAccountResult');
check($info->{AccountId} eq $account, 'GetAccount AccountId');
check($info->{MaxRecipientsPerRequest} == 10000, 'MaxRecipientsPerRequest');
ok('GetAccount');

my @message = (
    el(Text => $TEXT)->type('string'),
    el(Recipients => \SOAP::Data->value(
        map { el(Recipient => $_)->type('string') }
            ('+17036069996', '17036069997', 'not-a-number')
    )),
    el(ClientReference => $reference)->type('string'),
    el(ValidityMinutes => 60)->type('int'),
);
my $sent = result($soap->SendMessage(auth($password), el(Message => \SOAP::Data->value(@message))));
my $batch = $sent->valueof('//SendMessageResult/BatchId');
check($sent->valueof('//SendMessageResult/AcceptedCount') == 2, 'AcceptedCount');
check($sent->valueof('//SendMessageResult/RejectedCount') == 1, 'RejectedCount');
my @receipts = $sent->valueof('//SendMessageResult/Messages/MessageReceipt');
check(@receipts == 2, 'two receipts');
check($receipts[1]{Recipient} eq '+17036069997', 'E.164 receipt');
check($receipts[0]{Status} eq 'QUEUED', 'QUEUED');
check($receipts[0]{Encoding} eq 'UCS2', 'UCS2 for non-GSM text');
my $rejected = $sent->valueof('//SendMessageResult/Rejected/RejectedRecipient');
check($rejected->{Reason} eq 'INVALID_NUMBER', 'INVALID_NUMBER');
print "batch=$batch\n";
ok('SendMessage');

my $again = result($soap->SendMessage(auth($password), el(Message => \SOAP::Data->value(@message))));
check($again->valueof('//SendMessageResult/BatchId') eq $batch, 'same batch');
ok('SendMessage replay');

my @statuses = result($soap->GetStatus(auth($password), el(BatchId => $batch)->type('string')))
    ->valueof('//GetStatusResult/MessageStatus');
check(@statuses == 2, 'GetStatus by batch');
check($statuses[0]{Status} eq 'QUEUED', 'status QUEUED');
check($statuses[0]{BatchId} eq $batch, 'status BatchId');
ok('GetStatus');

my $page = result($soap->ListMessages(
    auth($password),
    el(BatchId => $batch)->type('string'),
    el(Limit => 1)->type('int'),
));
check(scalar(my @listed = $page->valueof('//ListMessagesResult/Messages/MessageStatus')) == 1, 'a page of one');
my $cursor = $page->valueof('//ListMessagesResult/NextCursor');
check(defined $cursor, 'NextCursor');
$page = result($soap->ListMessages(
    auth($password),
    el(BatchId => $batch)->type('string'),
    el(Cursor => $cursor)->type('string'),
    el(Limit => 1)->type('int'),
));
check(!defined $page->valueof('//ListMessagesResult/NextCursor'), 'last page');
ok('ListMessages');

my @cancelled = result($soap->CancelMessage(
    auth($password),
    el(MessageIds => \SOAP::Data->value(el(MessageId => $receipts[0]{MessageId})->type('string'))),
))->valueof('//CancelMessageResult/MessageStatus');
check(@cancelled == 1 && $cancelled[0]{Status} eq 'CANCELLED', 'CANCELLED');
ok('CancelMessage');

my $wrong = eval { $soap->GetAccount(auth('wrong')); 1 } ? undef : $@;
check(ref $wrong && $wrong->faultcode =~ /AuthenticationFailed|Sender/, 'fault code');
ok('wrong password is a fault');

print "SCENARIO OK\n";
