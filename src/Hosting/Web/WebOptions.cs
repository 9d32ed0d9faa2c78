namespace SrMobile.Hosting.Web;

/// <summary>Where the web host listens (configuration section <c>SrMobile:Http</c>): 127.0.0.1:8080 unless told otherwise.</summary>
public sealed class HttpOptions
{
    public const string Section = "SrMobile:Http";

    /// <summary>An IP address; loopback by default, so nothing is reachable from elsewhere until a deployment says so.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>0 takes a free port (tests); every silo process on one machine needs its own.</summary>
    public int Port { get; set; } = 8080;
}
