using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Orleans.Connections.Security;

namespace SrMobile.Cluster;

/// <summary>
/// TLS for the cluster's own traffic, silo to silo and client to gateway (configuration section <c>SrMobile:Tls</c>):
/// off by default (the embedded one-machine cluster stays plain on 127.0.0.1), on in deploy/k8s. Every side presents
/// its certificate (<c>CertificatePath</c> and <c>KeyPath</c>, PEM) and accepts only a peer whose certificate chains
/// to the cluster's CA (<c>CaPath</c>, PEM): the layout of cert-manager's Secrets (tls.crt, tls.key, ca.crt). Names
/// are not checked (silos reach each other by pod IP); the CA is the cluster's own, so what it signed is a member.
/// A client without a certificate, or with one of another CA, cannot connect.
/// </summary>
public sealed class ClusterTlsOptions
{
    public const string Section = "SrMobile:Tls";

    public bool Enabled { get; set; }

    public string? CertificatePath { get; set; }

    public string? KeyPath { get; set; }

    public string? CaPath { get; set; }

    public static ClusterTlsOptions From(IConfiguration configuration) =>
        configuration.GetSection(Section).Get<ClusterTlsOptions>() ?? new ClusterTlsOptions();

    /// <summary>This side's certificate and the CA, read now so a bad file stops the process at start, naming the key.</summary>
    internal (X509Certificate2 Certificate, X509Certificate2Collection Authority) Load()
    {
        string File(string? path, string key) =>
            string.IsNullOrWhiteSpace(path) ? throw new InvalidOperationException($"{Section}:{key} is required when {Section}:Enabled is true")
            : System.IO.File.Exists(path) ? path : throw new InvalidOperationException($"{Section}:{key}: no file {path}");
        var certificatePath = File(CertificatePath, nameof(CertificatePath));
        var keyPath = File(KeyPath, nameof(KeyPath));
        var caPath = File(CaPath, nameof(CaPath));
        X509Certificate2 certificate;
        var authority = new X509Certificate2Collection();
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            authority.ImportFromPemFile(caPath);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new InvalidOperationException($"{Section}: cannot read the certificate {certificatePath} with key {keyPath}, or the CA {caPath}: {e.Message}", e);
        }
        if (authority.Count == 0)
            throw new InvalidOperationException($"{Section}:CaPath: {caPath} holds no certificate");
        if (!certificate.HasPrivateKey)
            throw new InvalidOperationException($"{Section}:KeyPath: {keyPath} holds no private key for {certificatePath}");
        return (certificate, authority);
    }

    /// <summary>Both directions: present the certificate, require the peer's, accept it only if it chains to the CA.</summary>
    internal static void Configure(TlsOptions options, X509Certificate2Collection authority)
    {
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.RemoteCertificateValidation = (certificate, _, _) => ChainsTo(certificate, authority);
    }

    /// <summary>Whether <paramref name="certificate"/> chains to one of <paramref name="authority"/> (and to nothing else: the system's roots are not trusted here).</summary>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2Collection authority)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }
}

public static class ClusterTlsExtensions
{
    /// <summary>TLS on the silo's connections (silo to silo, gateway) when <c>SrMobile:Tls:Enabled</c>.</summary>
    public static ISiloBuilder UseSrMobileTls(this ISiloBuilder silo, IConfiguration configuration)
    {
        var tls = ClusterTlsOptions.From(configuration);
        if (!tls.Enabled)
            return silo;
        var (certificate, authority) = tls.Load();
        return silo.UseTls(certificate, options => ClusterTlsOptions.Configure(options, authority));
    }

    /// <summary>TLS on a client's gateway connections (CLI, client-mode agent) when <c>SrMobile:Tls:Enabled</c>.</summary>
    public static IClientBuilder UseSrMobileTls(this IClientBuilder client, IConfiguration configuration)
    {
        var tls = ClusterTlsOptions.From(configuration);
        if (!tls.Enabled)
            return client;
        var (certificate, authority) = tls.Load();
        return client.UseTls(certificate, options => ClusterTlsOptions.Configure(options, authority));
    }
}
