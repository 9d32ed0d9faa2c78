using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SrMobile.Tests;

namespace SrMobile.Cluster.Tests;

/// <summary>
/// TLS inside the cluster (<c>SrMobile:Tls</c>) with certificates made here: two silos with certificates of the
/// cluster's CA form one cluster and a client with one reads it; a plain client, and a client whose certificate another
/// CA signed, are refused by the gateway.
/// </summary>
public sealed class TlsTests
{
    // The member client connects in about a second; a refused one keeps retrying the gateway until this runs out.
    private static readonly TimeSpan Refusal = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Members_with_the_clusters_certificates_join_others_are_refused()
    {
        using var folder = TestData.NewTemporaryFolder();
        var cluster = CertificateAuthority.Create("srmobile-cluster-ca");
        var other = CertificateAuthority.Create("some-other-ca");
        var silo0 = cluster.Issue("silo-0", folder.Path);
        var silo1 = cluster.Issue("silo-1", folder.Path);
        var client = cluster.Issue("client", folder.Path);
        var stranger = other.Issue("stranger", folder.Path);

        await using var azurite = await Azurite.StartNew();
        var clusterId = $"c{Guid.NewGuid():N}"[..12];
        using var first = TestSilo.Build(azurite, clusterId, folder.Path, silo0);
        using var second = TestSilo.Build(azurite, clusterId, folder.Path, silo1);
        await first.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await second.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        try
        {
            var gateway = TestSilo.GatewayPort(first);

            // A client of the cluster's CA connects and sees both silos active: silo to silo went over TLS too.
            using (var member = TestSilo.Client(clusterId, gateway, client))
            {
                await member.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
                var management = member.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0);
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
                Dictionary<SiloAddress, SiloStatus> hosts;
                while ((hosts = await management.GetHosts(onlyActive: true)).Count < 2 && DateTime.UtcNow < deadline)
                    await Task.Delay(250);
                Assert.Equal(2, hosts.Count);
                await member.StopAsync();
            }

            // The gateway itself, at the socket: TLS is required, and only a certificate of the cluster's CA completes it.
            Assert.True(await Handshake(gateway, client));
            Assert.False(await Handshake(gateway, null));
            Assert.False(await Handshake(gateway, stranger));

            // No certificate at all: the gateway's TLS handshake fails, the client never connects.
            using (var plain = TestSilo.Client(clusterId, gateway, new Dictionary<string, string?>()))
                await AssertRefused(plain);

            // A certificate, but of another CA.
            using (var outsider = TestSilo.Client(clusterId, gateway, stranger))
                await AssertRefused(outsider);

            // A graceful stop (what SIGTERM does) leaves the membership: the other silo sees it dead at once, not
            // after missed probes.
            var leaving = second.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
            await second.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));
            var membership = first.Services.GetRequiredService<IClusterMembershipService>();
            await membership.Refresh();
            Assert.Equal(SiloStatus.Dead, membership.CurrentSnapshot.GetSiloStatus(leaving));
        }
        finally
        {
            await second.StopAsync(CancellationToken.None);
            await first.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>Whether a TLS handshake with the gateway completes, presenting the certificate of <paramref name="settings"/> (or none).</summary>
    private static async Task<bool> Handshake(int gateway, IDictionary<string, string?>? settings)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, gateway);
        await using var tls = new System.Net.Security.SslStream(tcp.GetStream());
        var certificates = new X509CertificateCollection();
        if (settings is not null)
            certificates.Add(X509Certificate2.CreateFromPemFile(settings["SrMobile:Tls:CertificatePath"]!, settings["SrMobile:Tls:KeyPath"]!));
        try
        {
            await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
            {
                TargetHost = "srmobile",
                ClientCertificates = certificates,
                // This probe asks only whether the gateway accepts us; it trusts the gateway's certificate blindly.
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            }).WaitAsync(TimeSpan.FromSeconds(10));
            // TLS 1.3 reports a refused client certificate after the handshake: the first read shows it.
            tls.ReadTimeout = 2000;
            var read = tls.ReadAsync(new byte[1]).AsTask();
            var finished = await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(2)));
            return finished != read || await read > 0;
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
        {
            return false;
        }
    }

    private static async Task AssertRefused(IHost client)
    {
        using var timeout = new CancellationTokenSource(Refusal);
        var failure = await Record.ExceptionAsync(async () =>
        {
            await client.StartAsync(timeout.Token);
            // Connected after all: prove it by a call, which must not happen.
            await client.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts().WaitAsync(timeout.Token);
        });
        Assert.NotNull(failure);
        Assert.IsNotType<Xunit.Sdk.XunitException>(failure);
    }

    [Fact]
    public void Chains_to_accepts_only_certificates_of_the_authority()
    {
        using var folder = TestData.NewTemporaryFolder();
        var cluster = CertificateAuthority.Create("cluster");
        var other = CertificateAuthority.Create("other");
        using var member = X509Certificate2.CreateFromPem(File.ReadAllText(cluster.Issue("a", folder.Path)["SrMobile:Tls:CertificatePath"]!));
        using var stranger = X509Certificate2.CreateFromPem(File.ReadAllText(other.Issue("b", folder.Path)["SrMobile:Tls:CertificatePath"]!));
        var authority = new X509Certificate2Collection(cluster.Certificate);

        Assert.True(ClusterTlsOptions.ChainsTo(member, authority));
        Assert.False(ClusterTlsOptions.ChainsTo(stranger, authority));
        // A certificate that signs itself is no member either.
        Assert.False(ClusterTlsOptions.ChainsTo(other.Certificate, authority));
    }

    [Fact]
    public void Tls_is_off_by_default_and_a_missing_file_names_its_key()
    {
        Assert.False(ClusterTlsOptions.From(new ConfigurationBuilder().Build()).Enabled);

        using var folder = TestData.NewTemporaryFolder();
        var settings = CertificateAuthority.Create("ca").Issue("a", folder.Path);
        var keyPath = settings["SrMobile:Tls:KeyPath"];
        settings["SrMobile:Tls:KeyPath"] = folder.File("missing.key");
        var options = ClusterTlsOptions.From(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        Assert.Contains("SrMobile:Tls:KeyPath", Assert.Throws<InvalidOperationException>(() => options.Load()).Message);

        settings["SrMobile:Tls:KeyPath"] = keyPath;
        settings.Remove("SrMobile:Tls:CaPath");
        options = ClusterTlsOptions.From(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        Assert.Contains("SrMobile:Tls:CaPath is required", Assert.Throws<InvalidOperationException>(() => options.Load()).Message);
    }

    [Fact]
    public void The_shutdown_timeout_comes_from_configuration()
    {
        static HostOptions Options(string? value)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            if (value is not null)
                builder.Configuration.AddInMemoryCollection([KeyValuePair.Create(ClusterHostingExtensions.ShutdownTimeoutKey, (string?)value)]);
            builder.AddSrMobileShutdownTimeout();
            return builder.Build().Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<HostOptions>>().Value;
        }

        Assert.Equal(TimeSpan.FromSeconds(60), Options("00:01:00").ShutdownTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), Options(null).ShutdownTimeout);
        Assert.Contains(ClusterHostingExtensions.ShutdownTimeoutKey, Assert.Throws<InvalidOperationException>(() => Options("soon")).Message);
    }
}

/// <summary>A CA made in the test (ECDSA P-256), issuing certificates for server and client authentication as PEM files.</summary>
internal sealed class CertificateAuthority
{
    private CertificateAuthority(X509Certificate2 certificate) => Certificate = certificate;

    public X509Certificate2 Certificate { get; }

    public static CertificateAuthority Create(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // The self-signed certificate carries its own copy of the key: it signs what Issue makes.
        return new CertificateAuthority(certificate);
    }

    /// <summary>Writes NAME.crt, NAME.key and NAME-ca.crt under <paramref name="folder"/> and returns the SrMobile:Tls settings naming them.</summary>
    public Dictionary<string, string?> Issue(string name, string folder)
    {
        using var leafKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", leafKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName(name);
        request.CertificateExtensions.Add(names.Build());
        var serial = RandomNumberGenerator.GetBytes(12);
        using var certificate = request.Create(Certificate, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(12), serial);
        var paths = (Certificate: Path.Combine(folder, $"{name}.crt"), Key: Path.Combine(folder, $"{name}.key"), Ca: Path.Combine(folder, $"{name}-ca.crt"));
        File.WriteAllText(paths.Certificate, certificate.ExportCertificatePem());
        File.WriteAllText(paths.Key, leafKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(paths.Ca, Certificate.ExportCertificatePem());
        return new Dictionary<string, string?>
        {
            ["SrMobile:Tls:Enabled"] = "true",
            ["SrMobile:Tls:CertificatePath"] = paths.Certificate,
            ["SrMobile:Tls:KeyPath"] = paths.Key,
            ["SrMobile:Tls:CaPath"] = paths.Ca,
        };
    }
}
