using Microsoft.Extensions.Configuration;
using SrMobile.Contracts.Telemetry;

namespace SrMobile.Cluster;

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
