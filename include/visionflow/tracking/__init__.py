"""Object tracks: frames of scene segments, detection + ByteTrack, track records, clips."""
