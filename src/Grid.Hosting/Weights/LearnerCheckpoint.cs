using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Grid.Core;

namespace Grid.Hosting.Weights;

/// <summary>
/// The record that makes policy version <see cref="Version"/> a complete learner checkpoint: the weights the learner
/// published and the optimizer state it had right after the update that made them (null for version 0, whose
/// optimizer is AdamW's fresh zero state). A learner restored from it applies step <see cref="Version"/> next.
/// Stored as one header line carrying the sha256 of the JSON body, then the body, so a truncated or edited record is
/// refused like a damaged object.
/// </summary>
/// <param name="OptimizerBytes">Size of the optimizer state, for logs and the resume message.</param>
public sealed record LearnerCheckpoint(
    string RunId, long Version, WeightReference Weights, WeightReference? Optimizer, long OptimizerBytes,
    DateTimeOffset CreatedUtc)
{
    private const string Header = "grid-learner-checkpoint v1 sha256=";

    /// <summary>The next step a learner restored from this checkpoint applies (version v was made by step v - 1).</summary>
    public long NextStep => Version;

    /// <summary>The record's name in its run: <c>checkpoint-v000000000042</c>, one per version.</summary>
    public static string RecordName(long version) =>
        $"checkpoint-v{version.ToString("D12", CultureInfo.InvariantCulture)}";

    public byte[] ToRecord()
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(this);
        byte[] header = Encoding.ASCII.GetBytes(Header + Sha256Hex.Of(body) + "\n");
        return [.. header, .. body];
    }

    /// <summary>Parses and hash-checks a record; <paramref name="where"/> names it in the error.</summary>
    public static LearnerCheckpoint Parse(byte[] record, string where)
    {
        ArgumentNullException.ThrowIfNull(record);
        int newline = Array.IndexOf(record, (byte)'\n');
        string header = newline > 0 ? Encoding.ASCII.GetString(record, 0, newline) : "";
        if (!header.StartsWith(Header, StringComparison.Ordinal))
        {
            throw new InvalidDataException(
                $"Checkpoint record {where} ({record.Length} bytes) does not start with '{Header}…': it is damaged or "
                + "not a checkpoint record. Restore it from a backup, or delete it to resume from the previous version.");
        }

        string expected = header[Header.Length..];
        var body = record.AsSpan(newline + 1);
        string actual = Sha256Hex.Of(body);
        if (!string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException(
                $"Checkpoint record {where} has sha256 {actual} but its header promises {expected}: it was truncated "
                + "or modified after it was written. Restore it from a backup, or delete it to resume from the "
                + "previous version.");
        }

        return JsonSerializer.Deserialize<LearnerCheckpoint>(body)
            ?? throw new InvalidDataException($"Checkpoint record {where} holds JSON null.");
    }
}
