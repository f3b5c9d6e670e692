using System.Text;
using Grid.Policy.Checkpoints;
using TorchSharp;

namespace Grid.Training.Learner;

/// <summary>
/// The bytes of a learner's optimizer state: a magic and format version, the learner's update counters, then
/// TorchSharp's own optimizer serialization (optimizer type, parameter groups' options, and per parameter AdamW's step
/// count, first and second moments). TorchSharp checks every tensor's dtype and shape on load; this class turns its
/// errors into one message that says what the bytes are and what to do.
/// </summary>
internal static class OptimizerStateFormat
{
    private const string Magic = "grid-optimizer-state";
    private const int Version = 1;

    public static byte[] Write(TorchSharp.Modules.OptimizerHelper optimizer, long updatesApplied, long updatesSkipped,
        SizedBuffer buffer) => buffer.Write(stream =>
    {
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(Version);
        writer.Write(updatesApplied);
        writer.Write(updatesSkipped);
        optimizer.save_state_dict(writer);
    });

    public static (long UpdatesApplied, long UpdatesSkipped) Read(TorchSharp.Modules.OptimizerHelper optimizer, byte[] state)
    {
        ArgumentNullException.ThrowIfNull(state);
        try
        {
            using var reader = new BinaryReader(new MemoryStream(state, writable: false), Encoding.UTF8);
            if (reader.ReadString() != Magic || reader.ReadInt32() != Version)
            {
                throw new InvalidDataException($"they do not start with the '{Magic}' v{Version} header");
            }

            long applied = reader.ReadInt64();
            long skipped = reader.ReadInt64();
            optimizer.load_state_dict(reader);
            if (reader.BaseStream.Position != state.Length)
            {
                throw new InvalidDataException($"{state.Length - reader.BaseStream.Position} bytes follow the state");
            }

            return (applied, skipped);
        }
        catch (Exception error) when (error is InvalidDataException or ArgumentException or EndOfStreamException
            or IOException or FormatException)
        {
            throw new InvalidDataException(
                $"The {state.Length} bytes of optimizer state do not fit this learner's {optimizer.GetType().Name} "
                + $"({error.Message}). They belong to another model shape or optimizer, or are damaged; resume from a "
                + "checkpoint of this run.", error);
        }
    }
}
