using Microsoft.Extensions.Configuration;
using SrMobile.Contracts.Telemetry;

namespace SrMobile.Silo.Web;

/// <summary>Where the web host listens (configuration section <c>SrMobile:Http</c>): 127.0.0.1:8080 unless told otherwise.</summary>
public sealed class HttpOptions
{
    public const string Section = "SrMobile:Http";

    /// <summary>An IP address; loopback by default, so nothing is reachable from elsewhere until a deployment says so.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>0 takes a free port (tests); every silo process on one machine needs its own.</summary>
    public int Port { get; set; } = 8080;
}

/// <summary>Who may read through the API without a key.</summary>
public enum ReadAccess
{
    /// <summary>Requests from a loopback address read freely; others need a key.</summary>
    Loopback,

    /// <summary>Anyone who reaches the port reads.</summary>
    Anyone,

    /// <summary>Every read needs a key, as writes do.</summary>
    Key,
}

/// <summary>
/// API credentials (configuration section <c>SrMobile:Auth</c>). Writes (submit, cancel) always need a key from
/// <see cref="ApiKeys"/> in the <c>X-Api-Key</c> header; with none configured, writes are refused. An entry may be the
/// key itself or <c>sha256:HEX</c> of it, so a configuration need not hold the key in clear.
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "SrMobile:Auth";

    public List<string> ApiKeys { get; set; } = [];

    public ReadAccess Read { get; set; } = ReadAccess.Loopback;
}

/// <summary>
/// The identity of this process in its metrics (configuration section <c>SrMobile:Metrics</c>): <c>ServiceName</c>
/// (default <c>srmobile</c>) and <c>Instance</c> (default host name and process id), the labels <c>service_name</c> and
/// <c>service_instance_id</c> of every SrMobile series and the OpenTelemetry resource's service.
/// </summary>
public sealed record MetricsOptions(string ServiceName, string Instance)
{
    public const string Section = "SrMobile:Metrics";

    public static MetricsOptions From(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        return new MetricsOptions(
            string.IsNullOrWhiteSpace(section["ServiceName"]) ? SrMobileMetrics.DefaultService : section["ServiceName"]!.Trim(),
            string.IsNullOrWhiteSpace(section["Instance"]) ? SrMobileMetrics.DefaultInstance : section["Instance"]!.Trim());
    }
}
