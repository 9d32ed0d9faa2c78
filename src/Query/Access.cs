using System.Security.Cryptography;
using System.Text;

namespace SrMobile.Query;

/// <summary>Who may read through the API and the dashboard without signing in.</summary>
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
/// Credentials of the API and the dashboard (configuration section <c>SrMobile:Auth</c>). Writes (submit, cancel)
/// always need a key of <see cref="ApiKeys"/>: in the <c>X-Api-Key</c> header for the API, given once at the
/// dashboard's sign-in for its cookie. With none configured, writes are refused. An entry may be the key itself or
/// <c>sha256:HEX</c> of it, so a configuration need not hold the key in clear.
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "SrMobile:Auth";

    public List<string> ApiKeys { get; set; } = [];

    public ReadAccess Read { get; set; } = ReadAccess.Loopback;
}

/// <summary>The configured keys as SHA-256 digests, compared in fixed time.</summary>
public sealed class KeyRing(AuthOptions options)
{
    private readonly byte[][] digests = [.. options.ApiKeys.Where(k => !string.IsNullOrWhiteSpace(k)).Select(Digest)];

    public bool IsEmpty => digests.Length == 0;

    public bool Holds(string key)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        // Every digest is compared, so the time taken says nothing about which came close.
        var match = false;
        foreach (var known in digests)
            match |= CryptographicOperations.FixedTimeEquals(known, digest);
        return match;
    }

    private static byte[] Digest(string entry) =>
        entry.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase)
            ? Convert.FromHexString(entry["sha256:".Length..].Trim())
            : SHA256.HashData(Encoding.UTF8.GetBytes(entry));
}
