using System.Text.RegularExpressions;
using Azure.Data.Tables;
using Azure.Storage.Blobs;

namespace Grid.Hosting.Configuration;

/// <summary>
/// Checks an Azure Storage connection string before any Azure or Orleans object is built from it. The Azure SDK's own
/// parser refuses a malformed string with a message that quotes the string, account key included, and the refusal
/// surfaced as a stack trace; this check says what is wrong without showing any value that could be a secret: it
/// names segments by position and settings by name, and never prints AccountKey, SharedAccessSignature or the value
/// of a key it does not know.
/// </summary>
public static partial class StorageConnectionString
{
    /// <summary>Longer is not a connection string (an account's, with a SAS and every endpoint, is well under 2 KB).</summary>
    public const int MaxLength = 4096;

    /// <summary>How to get a good one, for the end of a refusal.</summary>
    public const string Fix =
        "Copy the connection string again (Azure portal: storage account > Security + networking > Access keys, or "
        + "`az storage account show-connection-string`); it is key=value pairs separated by ';', e.g. "
        + "DefaultEndpointsProtocol=https;AccountName=<account>;AccountKey=<base64 key>;EndpointSuffix=core.windows.net. "
        + "For Azurite: UseDevelopmentStorage=true.";

    private static readonly string[] Endpoints =
    [
        "BlobEndpoint", "QueueEndpoint", "TableEndpoint", "FileEndpoint",
        "BlobSecondaryEndpoint", "QueueSecondaryEndpoint", "TableSecondaryEndpoint", "FileSecondaryEndpoint",
    ];

    private static readonly string[] Known =
    [
        "DefaultEndpointsProtocol", "AccountName", "AccountKey", "SharedAccessSignature", "EndpointSuffix",
        "UseDevelopmentStorage", "DevelopmentStorageProxyUri", .. Endpoints,
    ];

    /// <summary>
    /// The refusal of the AzureStorageConnectionString setting, naming the setting, the problem and the fix; null when
    /// the string is usable.
    /// </summary>
    public static string? Refusal(string? connectionString) => Problem(connectionString) is { } problem
        ? $"AzureStorageConnectionString is not a usable connection string (its value is not shown: it holds the "
            + $"account key): {problem} {Fix}"
        : null;

    /// <summary>
    /// What is wrong with <paramref name="connectionString"/>, or null when Grid can use it (blob and table clients
    /// can be built from it). The text holds no value of the string except the names of settings it knows.
    /// </summary>
    public static string? Problem(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return "it is empty.";
        }

        if (connectionString.Length > MaxLength)
        {
            return $"it is {connectionString.Length} characters long; a connection string has at most {MaxLength}.";
        }

        var (settings, problems) = Parse(connectionString);
        if (problems.Count == 0)
        {
            problems.AddRange(settings.ContainsKey("UseDevelopmentStorage") ? DevelopmentStorage(settings) : Account(settings));
        }

        if (problems.Count == 0 && SdkRefuses(connectionString) is { } service)
        {
            problems.Add($"the Azure SDK cannot build a {service} client from it (its message is not shown: it quotes the "
                + "string, key included).");
        }

        return problems.Count == 0 ? null : string.Join(" ", problems);
    }

    /// <summary>The key=value segments by key (known keys in their canonical spelling), and what is wrong with them.</summary>
    private static (Dictionary<string, string> Settings, List<string> Problems) Parse(string connectionString)
    {
        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var problems = new List<string>();
        string[] segments = connectionString.Split(';');
        for (int i = 0; i < segments.Length; i++)
        {
            string segment = segments[i].Trim();
            int number = i + 1;
            if (segment.Length == 0)
            {
                continue; // a trailing ';' (or an empty pair) is allowed
            }

            int equals = segment.IndexOf('=', StringComparison.Ordinal);
            string? begins = Known.OrderByDescending(k => k.Length)
                .FirstOrDefault(k => segment.StartsWith(k, StringComparison.OrdinalIgnoreCase));
            if (begins is not null && segment.Length > begins.Length && segment[begins.Length] is char next
                && next != '=' && !char.IsAsciiLetterOrDigit(next) && (equals < 0 || equals > begins.Length))
            {
                // AccountKey:abc== has an '=' (the key's padding), but not where it belongs.
                problems.Add($"segment {number} is not key=value: it begins with {begins} and then '{Shown(next)}' where "
                    + $"'=' belongs; write {begins}=<value>.");
                continue;
            }

            if (equals < 0)
            {
                problems.Add($"segment {number} is not key=value (it has no '=').");
                continue;
            }

            string key = segment[..equals].Trim();
            string value = segment[(equals + 1)..].Trim();
            string? known = Known.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
            if (key.Length == 0)
            {
                problems.Add($"segment {number} has no key before its '='.");
            }
            else if (known is null)
            {
                // A key name is shown only when it looks like one: a pasted key or SAS split at its '=' would not.
                problems.Add(SettingName().IsMatch(key)
                    ? $"segment {number} has the unknown key '{key}' (value not shown)."
                    : $"segment {number} has a key that is not a connection string setting (not shown).");
            }
            else if (!settings.TryAdd(known, value))
            {
                problems.Add($"{known} is given twice.");
            }
        }

        if (problems.Count == 0 && settings.Count == 0)
        {
            problems.Add("it has no key=value segment.");
        }

        return (settings, problems);
    }

    private static IEnumerable<string> DevelopmentStorage(Dictionary<string, string> settings)
    {
        if (!string.Equals(settings["UseDevelopmentStorage"], "true", StringComparison.OrdinalIgnoreCase))
        {
            yield return "UseDevelopmentStorage must be true (Azurite); to use an account, remove it.";
        }

        var others = settings.Keys.Where(k => k is not "UseDevelopmentStorage" and not "DevelopmentStorageProxyUri").ToArray();
        if (others.Length > 0)
        {
            yield return $"UseDevelopmentStorage=true takes no {string.Join(", ", others)}; give either the emulator or an "
                + "account.";
        }
    }

    private static IEnumerable<string> Account(Dictionary<string, string> settings)
    {
        settings.TryGetValue("AccountName", out string? name);
        bool hasKey = settings.TryGetValue("AccountKey", out string? key);
        bool hasSas = settings.TryGetValue("SharedAccessSignature", out string? sas);
        if (settings.TryGetValue("DefaultEndpointsProtocol", out string? protocol)
            && !string.Equals(protocol, "https", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(protocol, "http", StringComparison.OrdinalIgnoreCase))
        {
            yield return "DefaultEndpointsProtocol must be https or http.";
        }

        if (hasKey && hasSas)
        {
            yield return "AccountKey and SharedAccessSignature are both given; keep one.";
        }
        else if (!hasKey && !hasSas)
        {
            yield return "AccountKey is missing (or a SharedAccessSignature): the string carries no credential.";
        }

        if (hasKey && key!.Length == 0)
        {
            yield return "AccountKey is empty.";
        }
        else if (hasKey && !IsBase64(key!))
        {
            yield return "AccountKey is not base64 (an account key is 88 characters of A-Z, a-z, 0-9, '+' and '/', "
                + "ending in '=='); it was cut or mistyped.";
        }

        if (hasSas && sas!.Length == 0)
        {
            yield return "SharedAccessSignature is empty.";
        }

        if (name is null)
        {
            if (hasKey)
            {
                yield return "AccountName is missing; an AccountKey needs the name of its account.";
            }
            else if (!settings.ContainsKey("BlobEndpoint") || !settings.ContainsKey("TableEndpoint"))
            {
                yield return "AccountName is missing (or BlobEndpoint and TableEndpoint): Grid needs blob and table "
                    + "storage of one account.";
            }
        }
        else if (!AccountName().IsMatch(name))
        {
            yield return "AccountName is not 3 to 24 lowercase letters and digits.";
        }

        foreach (string endpoint in Endpoints.Where(settings.ContainsKey))
        {
            if (!Uri.TryCreate(settings[endpoint], UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                yield return $"{endpoint} is not an absolute http or https URL.";
            }
        }
    }

    /// <summary>A separator character as it can be shown: printable ASCII as itself, anything else by its code.</summary>
    private static string Shown(char c) => c is >= '!' and <= '~' ? c.ToString() : $"U+{(int)c:X4}";

    private static bool IsBase64(string text)
    {
        Span<byte> bytes = stackalloc byte[MaxLength];
        return text.Length % 4 == 0 && Convert.TryFromBase64String(text, bytes, out int written) && written > 0;
    }

    /// <summary>The service whose SDK client refuses the string, or null; the SDK's exception is dropped unread.</summary>
    private static string? SdkRefuses(string connectionString)
    {
        try
        {
            _ = new BlobServiceClient(connectionString);
        }
        catch (Exception)
        {
            return "blob"; // whatever it threw, its message may quote the key: it is not read
        }

        try
        {
            _ = new TableServiceClient(connectionString);
        }
        catch (Exception)
        {
            return "table";
        }

        return null;
    }

    [GeneratedRegex("^[A-Za-z]{1,40}$")]
    private static partial Regex SettingName();

    [GeneratedRegex("^[a-z0-9]{3,24}$")]
    private static partial Regex AccountName();
}
