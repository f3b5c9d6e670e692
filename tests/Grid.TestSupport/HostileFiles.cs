using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace Grid.TestSupport;

/// <summary>Builders of hostile input files, shared by the decoder tests and the command-line hostile input tests.</summary>
public static class HostileFiles
{
    /// <summary>
    /// An RGB PNG whose IHDR declares width x height, with <paramref name="rows"/> rows of zero pixels compressed behind
    /// it (all of them by default: a decompression bomb of a few bytes per row).
    /// </summary>
    public static byte[] Bomb(int width, int height, int? rows = null)
    {
        using var idat = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[1 + (3L * width)];
            for (int i = 0; i < (rows ?? height); i++)
            {
                z.Write(row);
            }
        }

        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", idat.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    /// <summary>
    /// The safetensors file <paramref name="weights"/> with its header rewritten: <paramref name="edit"/> is applied to
    /// the first two tensors' entries (with their index); the tensor data is kept as it was.
    /// </summary>
    public static byte[] EditSafetensorsHeader(byte[] weights, Action<int, JsonObject> edit)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(edit);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(weights);
        var header = JsonNode.Parse(weights.AsSpan(8, length))!.AsObject();
        int index = 0;
        foreach (var (name, entry) in header.ToArray())
        {
            if (name != "__metadata__" && index < 2)
            {
                edit(index++, entry!.AsObject());
            }
        }

        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var rewritten = new byte[8 + json.Length + weights.Length - 8 - length];
        BinaryPrimitives.WriteUInt64LittleEndian(rewritten, (ulong)json.Length);
        json.CopyTo(rewritten, 8);
        weights.AsSpan(8 + length).CopyTo(rewritten.AsSpan(8 + json.Length));
        return rewritten;
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        var header = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, data.Length);
        Encoding.ASCII.GetBytes(type, header.AsSpan(4));
        png.Write(header);
        png.Write(data);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32([.. header.AsSpan(4), .. data]));
        png.Write(crc);
    }

    /// <summary>The PNG chunk checksum (CRC-32, polynomial 0xEDB88320).</summary>
    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        return ~crc;
    }
}
