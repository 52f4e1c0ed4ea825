console.log("linux-net: addon build not written yet");
